#!/usr/bin/env python
"""The GAN training loop a user writes from a tutorial, with ganforge's own networks: the baseline
of benchmarks/throughput.py.

What makes it "textbook": a Dataset that converts each item on access (uint8 -> float in [-1, 1]),
a shuffling DataLoader that collates items into batches, a discriminator ending in a sigmoid with
nn.BCELoss, labels built every step, the fake batch reused for the generator update (as the PyTorch
DCGAN tutorial does), and `.item()` on both losses every step.

    python benchmarks/textbook_dcgan.py [--steps 50]     # DCGAN on MNIST, prints samples/s
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn


class ImageDataset(torch.utils.data.Dataset):
    """uint8 images [N, C, H, W], converted to float in [-1, 1] one item at a time."""

    def __init__(self, images: np.ndarray) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(self.images[i].astype(np.float32) / 127.5 - 1.0)


class PointDataset(torch.utils.data.Dataset):
    def __init__(self, points: np.ndarray) -> None:
        self.points = points.astype(np.float32)

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(self.points[i])


def textbook_loop(G: nn.Module, D: nn.Module, data: torch.utils.data.Dataset, batch_size: int, z_dim: int,
                  steps: int, lr: float = 2e-4, device: str = "cpu") -> float:
    """Train `steps` steps; returns samples per second (generator-step samples, as ganforge counts).
    On a GPU the batches are copied there each step, as tutorials do (`real.to(device)`)."""
    G.to(device), D.to(device)
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=True,
                                         pin_memory=device != "cpu")
    criterion = nn.BCELoss()
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))

    def d_prob(x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(D(x, None)).view(-1)

    done, start = 0, time.perf_counter()
    while done < steps:
        for real in loader:
            real = real.to(device)
            b = real.size(0)
            # discriminator: maximise log D(x) + log(1 - D(G(z)))
            opt_d.zero_grad()
            label = torch.full((b,), 1.0, device=device)
            err_real = criterion(d_prob(real), label)
            err_real.backward()
            noise = torch.randn(b, z_dim, device=device)
            fake = G(noise, None)
            label.fill_(0.0)
            err_fake = criterion(d_prob(fake.detach()), label)
            err_fake.backward()
            opt_d.step()
            # generator: maximise log D(G(z)), reusing the fake batch
            opt_g.zero_grad()
            label.fill_(1.0)
            err_g = criterion(d_prob(fake), label)
            err_g.backward()
            opt_g.step()
            _ = (err_real + err_fake).item(), err_g.item()  # what tutorials print every step
            done += 1
            if done == steps:
                break
    return steps * batch_size / (time.perf_counter() - start)


def main() -> None:
    from ganforge.config import resolve
    from ganforge.data.images import mnist_arrays
    from ganforge.registries import NETWORKS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--batch", type=int, default=64)
    a = p.parse_args()
    cfg = resolve("mnist-dcgan")
    torch.manual_seed(0)
    G, D = NETWORKS.get("dcgan")(cfg.model, (1, 28, 28), 0, "tanh")
    data = ImageDataset(mnist_arrays("train")[0][:, None])
    rate = textbook_loop(G, D, data, a.batch, cfg.model.z_dim, a.steps)
    print(f"textbook DCGAN on MNIST, batch {a.batch}: {rate:.0f} samples/s")


if __name__ == "__main__":
    main()
