"""Small layer factories shared by the network families."""
from __future__ import annotations

import torch
from torch import nn


def activation(name: str) -> nn.Module:
    """Activation module by name (leaky_relu uses the tutorials' slope 0.2)."""
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(0.2)
    if name == "tanh":
        return nn.Tanh()
    if name == "elu":
        return nn.ELU()
    raise ValueError(f"unknown activation '{name}' (relu | leaky_relu | tanh | elu)")


class LabelEmbedding(nn.Module):
    """Embeds integer class labels; with num_classes=0 it is absent and returns None."""

    def __init__(self, num_classes: int, dim: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.dim = dim if num_classes > 0 else 0
        self.embed = nn.Embedding(num_classes, dim) if num_classes > 0 else None

    def forward(self, y: torch.Tensor | None, n: int) -> torch.Tensor | None:
        if self.embed is None:
            return None
        if y is None:
            raise ValueError(f"this network is conditional on {self.num_classes} classes: pass labels y")
        if y.shape != (n,):
            raise ValueError(f"labels y must have shape [{n}], got {list(y.shape)}")
        return self.embed(y.long())


class _FlattenKeepLayout(torch.autograd.Function):
    """x.flatten(1) of a channels-last [N, C, H, W] x whose gradient goes back channels-last too.

    Flattening reads the channels-first order, so the forward copies x (as x.flatten(1) does); plain autograd
    hands the gradient back as a channels-first view, and the layers before it (LeakyReLU, BatchNorm, conv
    backward) then mix two memory formats, which PyTorch's CPU kernels run on a slow strided path
    (leaky_relu_backward on a [64, 128, 7, 7] bf16 tensor about 15x slower than with matching formats).
    The backward converts the gradient to x's format: the same values, one copy."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.shape = x.shape
        return x.flatten(1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return grad.reshape(ctx.shape).contiguous(memory_format=torch.channels_last)  # differentiable (penalties)


class Flatten(nn.Flatten):
    """nn.Flatten (start_dim 1) that keeps a channels-last input's gradient channels-last (_FlattenKeepLayout);
    any other input flattens as nn.Flatten does. The same values either way; no parameters."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (x.dim() == 4 and self.start_dim == 1 and self.end_dim == -1 and not x.is_contiguous()
                and x.is_contiguous(memory_format=torch.channels_last)):
            return _FlattenKeepLayout.apply(x)
        return super().forward(x)


class MinibatchStd(nn.Module):
    """Minibatch standard deviation (Karras et al. 2018, ProGAN, section 3; model.d_mbstd): one channel appended to
    D's last feature maps that tells D how much the samples around each one vary.

    The batch of N splits into groups of `group` samples (sample i joins group i mod N / group, as ProGAN's
    reshape does); for each group, the standard deviation of every feature over its members, averaged over
    channels and positions, is one number, broadcast as a constant map to every member. A generator that repeats
    itself gives its groups a smaller value than real batches, which D can see. Computed in float32 (bf16 under
    autocast would round the small differences away); the new channel takes x's dtype, the output x's layout."""

    def __init__(self, group: int) -> None:
        super().__init__()
        if group < 2:
            raise ValueError(f"MinibatchStd needs groups of >= 2 samples, got {group}")
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group, n)
        if n % g:
            raise ValueError(f"model.d_mbstd={self.group}: the discriminator got a batch of {n} samples, which does "
                             f"not divide into groups of {g}; make the batch D sees (data.batch_size, over model.d_pack "
                             f"and under torchrun over the processes) a multiple of {self.group}")
        s = x.float().reshape(g, n // g, c, h, w)
        s = (s - s.mean(0)).square().mean(0).add(1e-8).sqrt().mean((1, 2, 3))  # [n / g]: one per group
        s = s.repeat(g).to(x.dtype)[:, None, None, None].expand(n, 1, h, w)
        out = torch.cat([x, s], 1)  # channels-first whatever x's layout: keep a channels-last D channels-last
        if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
            out = out.contiguous(memory_format=torch.channels_last)
        return out

    def extra_repr(self) -> str:
        return f"group={self.group}"
