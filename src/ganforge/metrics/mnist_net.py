"""The small MNIST classifier behind the `mnist` feature extractor (LeNet-5-like).

28x28 grayscale in [-1, 1] -> conv5 (32) -> pool -> conv5 (64) -> pool -> fc 128 (the features)
-> fc 10 (the logits). 186k parameters; the weights shipped in `weights/mnist_classifier.safetensors`
are produced by `scripts/train_mnist_classifier.py` on the MNIST train split.
"""
from __future__ import annotations

from torch import Tensor, nn

FEATURE_DIM = 128


class MnistNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2),   # 28 -> 24 -> 12
            nn.Conv2d(32, 64, 5), nn.ReLU(), nn.MaxPool2d(2),  # 12 -> 8 -> 4
            nn.Flatten(), nn.Linear(64 * 4 * 4, FEATURE_DIM), nn.ReLU())
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURE_DIM, 10)

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        f = self.body(x)
        return f, self.head(self.dropout(f))

    def forward(self, x: Tensor) -> Tensor:
        return self.features_and_logits(x)[1]


def to_input(images_u8: Tensor) -> Tensor:
    """uint8 [N, 1, 28, 28] -> float [-1, 1], the scaling used in training."""
    return images_u8.float().div(127.5).sub(1.0)
