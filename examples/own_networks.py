"""Train your own G and D, written as in a tutorial, with ganforge.fit.

Run: python examples/own_networks.py
The discriminator ends in nn.Sigmoid(), as tutorials write it; ganforge removes that last
layer and trains on the logits, so the BCE losses stay numerically stable.
"""
import numpy as np
import torch
from torch import nn

import ganforge

# Real data: 5,000 points from a 2-D Gaussian centred at (2, -1).
rng = np.random.default_rng(0)
x = rng.normal(loc=[2.0, -1.0], scale=0.5, size=(5000, 2)).astype(np.float32)

# Generator: noise (4 numbers) -> a 2-D point.
G = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2))
# Discriminator: a 2-D point -> probability that it is real.
D = nn.Sequential(nn.Linear(2, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1), nn.Sigmoid())

torch.manual_seed(0)
run = ganforge.fit(G, D, data=x, z_dim=4, loss="bce", steps=1500, batch_size=128, lr_g=1e-3, lr_d=1e-3)

samples = run.generator.sample(1000, seed=0).numpy()
print("real      mean", x.mean(0).round(2), "std", x.std(0).round(2))
print("generated mean", samples.mean(0).round(2), "std", samples.std(0).round(2))
print("last log line:", run.history[-1])
