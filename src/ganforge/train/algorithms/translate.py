"""Paired image-to-image translation: pix2pix (Isola et al. 2017, arXiv 1611.07004) and its regression baseline.

Batches hold x = the target and x2 = the input image, both in [-1, 1]. G maps the input to the target
(no noise vector: the U-Net's dropout is its noise); D judges patches of (output or target, input).

pix2pix, per step (the paper's objective, with its non-saturating G loss):
    L_D = 1/2 [BCE(D(y, x), 1) + BCE(D(G(x), x), 0)]        (halved, as the paper does for D)
    L_G = BCE(D(G(x), x), 1) + lambda |y - G(x)|_1           (lambda = pix2pix.l1_weight = 100)
each BCE a mean over D's patch logits; D's update first, then G's through the updated (frozen) D on
the same fake batch. regression trains the same U-Net on the L1 term alone (no D): the baseline every
pix2pix number is compared with.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ...errors import ConfigError, DataError
from ...priors import ImageInput
from ...registries import ALGORITHMS
from ...resources import OutputCounter
from .base import Algorithm, OptimizerSpec, Update

PICTURE_ROWS = 16  # examples per picture of input | output | target


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.float() - b.float()).abs().mean()


class Translation(Algorithm):
    """Shared by pix2pix and regression: paired data, an image prior, the unet family, pictures of rows."""

    translates = True
    conditional = False
    uses_d = True
    d_kind = "patch"

    def bind(self, source: Any) -> None:
        if not getattr(source, "paired", False):
            raise ConfigError(f"config key 'data.name': model.algorithm={self.cfg.model.algorithm} translates images "
                              f"and needs paired data (input, target), but '{source.name}' is "
                              f"{'points' if source.kind == 'points' else 'unpaired images'}; use mnist-sr4, "
                              f"mnist-inpaint, mnist-denoise, fashion-edges or pairs:DIR_A,DIR_B")
        c, h, w = source.input_shape
        self.input = ImageInput(int(c), int(h), int(w))

    def prior(self) -> ImageInput:
        return self.input

    @classmethod
    def check_config(cls, cfg: Any, defaults: Any) -> None:
        name = cfg.model.algorithm
        cls.refuse_changed(cfg, defaults, ("loss.name", "loss.penalty", "loss.gp_weight", "loss.clip",
                                           "loss.n_critic", "loss.schedule", "train.reuse_fake"),
                           f"{name} has its own objective and schedule (see `ganforge list algorithms`)")
        if cfg.train.eval_every:
            raise ConfigError(f"config key 'train.eval_every' = {cfg.train.eval_every}: evaluation during training is not "
                              f"available for model.algorithm={name} yet; set it to 0 and evaluate the run after "
                              f"training with `ganforge evaluate RUN`")
        if cfg.model.g or cfg.model.d or cfg.model.arch == "custom":
            raise ConfigError(f"config key 'model.g': your own networks are not available for model.algorithm={name} "
                              f"yet; use model.arch=unet")
        if cfg.model.arch != "unet":
            raise ConfigError(f"config key 'model.arch' = {cfg.model.arch!r}: model.algorithm={name} translates images "
                              f"with the unet family (U-Net G, PatchGAN D); use model.arch=unet")

    def networks(self, shape: tuple[int, ...], kind: str, prior: Any) -> dict[str, Any]:
        nets = super().networks(shape, kind, prior)
        return nets if self.uses_d else {"G": nets["G"]}

    def check_output(self, out: Any, x: torch.Tensor) -> None:
        if not torch.is_tensor(out) or out.dim() != 4 or out.shape[:2] != (x.shape[0], 1):
            shape = list(out.shape) if torch.is_tensor(out) else type(out).__name__
            raise ConfigError(f"the discriminator must return patch logits [N, 1, h, w]; got {shape}")

    @torch.no_grad()
    def check_shapes(self, nets: dict[str, Any], source: Any, device: torch.device) -> tuple[int, int]:
        """G on 2 probe inputs, D on (output, input): shapes agree with the data before training."""
        G, D = nets["G"], nets.get("D")
        x = torch.zeros(2, *source.input_shape, device=device)
        was = G.training
        G.eval()
        try:
            with OutputCounter(G) as g_count:
                out = G(x)
            if tuple(out.shape[1:]) != tuple(source.shape):
                raise DataError(f"the generator turns inputs {list(source.input_shape)} into {list(out.shape[1:])} but "
                                f"the targets of '{source.name}' are {list(source.shape)}")
            d_elements = 0
            if D is not None:
                d_was = D.training
                D.eval()
                try:
                    with OutputCounter(D) as d_count:
                        self.check_output(D(out, x), out)
                finally:
                    D.train(d_was)
                d_elements = d_count.elements // 2
        finally:
            G.train(was)
        return g_count.elements // 2, d_elements

    # ---- pictures: rows of input | output | target ------------------------------------------------------
    def rows(self, st: Any, n: int = PICTURE_ROWS) -> tuple[Any, Any, Any]:
        """The first n test-split pairs (else training pairs) translated by G_ema: uint8 [N, H, W, C] each."""
        src = getattr(self, "_picture_source", None)
        if src is None:
            src = picture_source(st.source)
            self._picture_source = src
        inputs, targets = src.input_images(n), src.target_images(n)
        outputs = st.generator().translate(inputs)
        return inputs, outputs, targets

    def samples_picture(self, st: Any, path: Path, title: str) -> Path:
        from ...report import panels_png

        inputs, outputs, targets = self.rows(st)
        return panels_png([("input", inputs), ("output", outputs), ("target", targets)], path, nrow=4,
                          title=title)

    def pictures(self, st: Any, out_dir: Any) -> list[Any]:
        return [self.samples_picture(st, Path(out_dir) / "translations.png",
                                     f"{st.cfg.name} step {st.step}: input | output | target")]


def picture_source(source: Any) -> Any:
    """The test split of a built-in task (pictures show held-out pairs), else the training pairs."""
    from ...data.source import load_source

    name = source.name
    if getattr(source, "task", "") in ("mnist-sr4", "mnist-inpaint", "mnist-denoise", "fashion-edges") and "@" not in name:
        try:
            return load_source(f"{name}@test")
        except Exception:  # noqa: BLE001  (pictures fall back to training pairs)
            return source
    return source


@ALGORITHMS.register("pix2pix", help="Pix2Pix: U-Net G, PatchGAN D on (output, input), adversarial + "
                                     "pix2pix.l1_weight x L1 (paired data)")
class Pix2Pix(Translation):
    def step(self, st: Any, update: Update) -> dict[str, torch.Tensor]:
        G_train, D_train, D = st.train_nets["G"], st.train_nets["D"], st.D
        D.requires_grad_(True)
        batch = st.next_batch()
        target, inp = batch.x, batch.x2
        with st.autocast():
            fake_g = G_train(inp)
            fake = fake_g.detach()
            real_logits, fake_logits = D_train(target, inp).float(), D_train(fake, inp).float()
            d_loss = 0.5 * (F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean())
        update("D", d_loss)
        D.requires_grad_(False)
        with st.autocast():
            g_adv = F.softplus(-D(fake_g, inp).float()).mean()
            g_l1 = l1(fake_g, target)
            g_loss = g_adv + st.cfg.pix2pix.l1_weight * g_l1
        update("G", g_loss)
        with torch.no_grad():
            return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), "g_adv": g_adv.detach(),
                    "l1": g_l1.detach(), "D(y|x)": torch.sigmoid(real_logits).mean(),
                    "D(G(x)|x)": torch.sigmoid(fake_logits).mean()}


@ALGORITHMS.register("regression", help="the U-Net of pix2pix trained on L1 alone (no D): the translation baseline")
class Regression(Translation):
    uses_d = False

    def optimizers(self) -> dict[str, OptimizerSpec]:
        return {"G": OptimizerSpec(("G",), self.cfg.optim.lr_g, "generator")}

    @classmethod
    def check_config(cls, cfg: Any, defaults: Any) -> None:
        super().check_config(cfg, defaults)
        cls.refuse_changed(cfg, defaults, ("optim.lr_d", "model.patch"), "regression has no discriminator")

    def step(self, st: Any, update: Update) -> dict[str, torch.Tensor]:
        batch = st.next_batch()
        with st.autocast():
            loss = l1(st.train_nets["G"](batch.x2), batch.x)
        update("G", loss)
        return {"g_loss": loss.detach(), "l1": loss.detach()}  # G's loss is its L1 term
