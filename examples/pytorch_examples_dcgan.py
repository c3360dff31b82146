"""The DCGAN of pytorch/examples (`dcgan/main.py`), its Generator and Discriminator classes in the form
that script defines them (same modules, same forward, noise drawn as [N, nz, 1, 1]), trained by ganforge
with no change:

    python examples/pytorch_examples_dcgan.py --steps 2000

The architecture (Radford et al. 2016, arXiv 1511.06434) is the one of
https://github.com/pytorch/examples/blob/main/dcgan/main.py: 64x64 images, ConvTranspose2d blocks with
BatchNorm and ReLU in G, strided Conv2d with LeakyReLU(0.2) and a final Sigmoid in D. G's first layer
is a ConvTranspose2d, so ganforge draws the noise as [N, nz, 1, 1]; D ends in nn.Sigmoid, so its
output is read as a probability (ganforge says so once). The MNIST digits are resized to 64x64, as
that script's `--dataset mnist --imageSize 64` does.
"""
from __future__ import annotations

import argparse

import torch
import torch.nn as nn

nz, ngf, ndf, nc = 100, 64, 64, 1  # the script's globals: noise size, G and D widths, image channels


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find('Conv') != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find('BatchNorm') != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


class Generator(nn.Module):
    def __init__(self, ngpu):
        super(Generator, self).__init__()
        self.ngpu = ngpu
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),       # nz -> (ngf*8) x 4 x 4
            nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),  # -> (ngf*4) x 8 x 8
            nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),  # -> (ngf*2) x 16 x 16
            nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),      # -> ngf x 32 x 32
            nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),           # -> nc x 64 x 64
            nn.Tanh())

    def forward(self, input):
        if input.is_cuda and self.ngpu > 1:
            return nn.parallel.data_parallel(self.main, input, range(self.ngpu))
        return self.main(input)


class Discriminator(nn.Module):
    def __init__(self, ngpu):
        super(Discriminator, self).__init__()
        self.ngpu = ngpu
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),  # -> ndf x 32 x 32
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),                                # -> (ndf*2) x 16 x 16
            nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),                            # -> (ndf*4) x 8 x 8
            nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),                            # -> (ndf*8) x 4 x 4
            nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, input):
        if input.is_cuda and self.ngpu > 1:
            output = nn.parallel.data_parallel(self.main, input, range(self.ngpu))
        else:
            output = self.main(input)
        return output.view(-1, 1).squeeze(1)


def mnist_64(n: int | None = None) -> torch.Tensor:
    """MNIST train digits as [N, 1, 64, 64] in [-1, 1] (bilinear resize, as transforms.Resize(64) would)."""
    from ganforge.data.images import mnist_arrays

    x = torch.from_numpy(mnist_arrays("train")[0][:n]).float().div(127.5).sub(1.0)[:, None]
    return torch.nn.functional.interpolate(x, size=64, mode="bilinear", align_corners=False).clamp(-1, 1)


def main() -> None:
    import ganforge

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--n", type=int, default=20000, help="MNIST digits to train on (64x64 takes memory)")
    p.add_argument("--run-dir", default="runs/pytorch-examples-dcgan")
    a = p.parse_args()
    torch.manual_seed(0)
    netG, netD = Generator(1), Discriminator(1)
    netG.apply(weights_init)
    netD.apply(weights_init)
    run = ganforge.fit(netG, netD, mnist_64(a.n), z_dim=nz, steps=a.steps, batch_size=64, run_dir=a.run_dir,
                       resume="auto")
    print(f"step {run.step}; pictures in {a.run_dir}/real_vs_fake.png")


if __name__ == "__main__":
    main()
