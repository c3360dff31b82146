"""What a generator is fed: the prior an algorithm samples from, shared by training and `generate`.

A prior draws, for n samples, the generator's input vector z (noise, and for InfoGAN its latent codes
appended) plus the codes themselves. Training draws from the global torch RNG on the training device;
`Generator.sample` draws from a seeded CPU generator. A prior is data: `describe()` is saved in every
checkpoint and export and `from_description` rebuilds it, so sampling code never needs the algorithm.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from .errors import ConfigError


@dataclass(frozen=True)
class Draw:
    """One draw of a prior: z, the generator's input [n, dim]; codes: categorical [n] (or None) and
    continuous [n, k] (or None) parts of z, for priors with latent codes."""

    z: torch.Tensor
    code: torch.Tensor | None = None
    code_cont: torch.Tensor | None = None


@dataclass(frozen=True)
class NoisePrior:
    """z ~ N(0, I) of dimension z_dim (the classic GAN prior)."""

    z_dim: int
    name: str = "noise"

    @property
    def dim(self) -> int:
        """Width of the generator's input vector."""
        return self.z_dim

    @property
    def q_dim(self) -> int:
        """Outputs a Q head needs to infer the codes (0: no codes)."""
        return 0

    def draw(self, n: int, device: Any = "cpu", generator: torch.Generator | None = None,
             code: Any = None) -> Draw:
        if code is not None:
            raise ConfigError("this generator has no latent codes (it was not trained with model.algorithm=infogan): "
                              "drop --code")
        return Draw(torch.randn(n, self.z_dim, device=device, generator=generator))

    def describe(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CodePrior:
    """InfoGAN's prior (Chen et al. 2016): noise z ~ N(0, I), one categorical code c ~ Cat(categorical)
    as a one-hot vector, and `continuous` codes ~ U(-1, 1); the generator sees [z, onehot(c), c_cont]."""

    z_dim: int
    categorical: int
    continuous: int
    name: str = "codes"

    @property
    def dim(self) -> int:
        return self.z_dim + self.categorical + self.continuous

    @property
    def q_dim(self) -> int:
        """Q's outputs: logits of the categorical code, then the means of the continuous codes."""
        return self.categorical + self.continuous

    def check_code(self, code: Any) -> None:
        if not self.categorical:
            raise ConfigError("this generator has no categorical code (infogan.categorical=0), only continuous ones: "
                              "drop --code")
        if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code < self.categorical:
            raise ConfigError(f"--code must be an integer in 0..{self.categorical - 1} (the categorical code "
                              f"has {self.categorical} values), got {code!r}")

    def draw(self, n: int, device: Any = "cpu", generator: torch.Generator | None = None,
             code: Any = None) -> Draw:
        z = torch.randn(n, self.z_dim, device=device, generator=generator)
        if code is not None:
            self.check_code(code)
            c = torch.full((n,), int(code), dtype=torch.long, device=device)
        elif self.categorical:
            c = torch.randint(self.categorical, (n,), device=device, generator=generator)
        else:
            c = None
        cont = torch.rand(n, self.continuous, device=device, generator=generator) * 2 - 1
        return Draw(self.with_codes(z, c, cont), c, cont)

    def with_codes(self, z: torch.Tensor, code: torch.Tensor | None, code_cont: torch.Tensor) -> torch.Tensor:
        """The generator input for given noise and codes (for sweeps such as the paper's Figure 2)."""
        parts = [z]
        if self.categorical:
            parts.append(torch.nn.functional.one_hot(code.long(), self.categorical).to(z.dtype))
        return torch.cat(parts + [code_cont.to(z.dtype)], 1)

    def describe(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ImageInput:
    """What a translation generator is fed: an input image of shape (channels, height, width) in [-1, 1]
    (no noise: Pix2Pix's G has dropout as its only noise). It cannot be drawn from."""

    channels: int
    height: int
    width: int
    name: str = "image"

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.height, self.width)

    @property
    def dim(self) -> int:
        return 0

    @property
    def q_dim(self) -> int:
        return 0

    def draw(self, n: int, device: Any = "cpu", generator: torch.Generator | None = None, code: Any = None) -> Draw:
        raise ConfigError("this is an image-to-image translation run: it translates input images and draws nothing "
                          "from noise; use `ganforge translate RUN INPUT --out OUT`")

    def describe(self) -> dict[str, Any]:
        return asdict(self)


PRIORS = {"noise": NoisePrior, "codes": CodePrior, "image": ImageInput}


def from_description(d: dict[str, Any] | None, z_dim: int) -> NoisePrior | CodePrior | ImageInput:
    """The prior a checkpoint or export describes; files from before issue 12 have none: N(0, I) of z_dim."""
    if not d:
        return NoisePrior(z_dim)
    kind = PRIORS.get(d.get("name", ""))
    if kind is None:
        raise ConfigError(f"unknown prior '{d.get('name')}' in the file: upgrade ganforge")
    return kind(**{k: v for k, v in d.items() if k != "name"})
