"""The tutorials' first GAN, with hand-written G and D classes: learn a 1-D Gaussian N(4, 1.25^2).

Run: python examples/gan_1d.py
"""
import torch
from torch import nn

import ganforge


class Generator(nn.Module):
    """Noise z (8 numbers) -> one number."""

    def __init__(self, z_dim: int = 8):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(z_dim, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))

    def forward(self, z):
        return self.net(z)


class Discriminator(nn.Module):
    """One number -> the logit that it came from the real data (no sigmoid: ganforge's losses take logits)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(1, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64), nn.LeakyReLU(0.2),
                                 nn.Linear(64, 1))

    def forward(self, x):
        return self.net(x)


torch.manual_seed(0)
real = 4.0 + 1.25 * torch.randn(20_000, 1)  # the data we want to imitate
run = ganforge.fit(Generator(), Discriminator(), data=real, z_dim=8, loss="bce", steps=2000, batch_size=256,
                   lr_g=1e-3, lr_d=1e-3)
fake = run.generator.sample(20_000, seed=0)
print(f"real      mean {real.mean():.3f} std {real.std():.3f}")
print(f"generated mean {fake.mean():.3f} std {fake.std():.3f}")
