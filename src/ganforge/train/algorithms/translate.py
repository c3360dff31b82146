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
from ..schedule import lr_factor
from .base import GAN_LOOP_KEYS, Algorithm, OptimizerSpec, Update
from .began import reconstruction_loss as l1  # mean |a - b| in float32: BEGAN's L(v), here the L1 terms

PICTURE_ROWS = 16  # examples per picture of input | output | target
# what the translation algorithms fix themselves
OWN_OBJECTIVE = ("loss.name", "loss.penalty", "loss.gp_weight", "loss.clip", *GAN_LOOP_KEYS)


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
        cls.refuse_shared(cfg, defaults)
        if cfg.model.g or cfg.model.d or cfg.model.arch == "custom":
            raise ConfigError(f"config key 'model.g': your own networks are not available for model.algorithm={name} "
                              f"yet; use model.arch=unet")
        if cfg.model.arch != "unet":
            raise ConfigError(f"config key 'model.arch' = {cfg.model.arch!r}: model.algorithm={name} translates images "
                              f"with the unet family (U-Net G, PatchGAN D); use model.arch=unet")

    @classmethod
    def refuse_shared(cls, cfg: Any, defaults: Any) -> None:
        """What no translation algorithm takes: another objective or schedule, evaluation during training."""
        name = cfg.model.algorithm
        cls.refuse_changed(cfg, defaults, OWN_OBJECTIVE,
                           f"{name} has its own objective and schedule (see `ganforge list algorithms`)")
        if cfg.train.eval_every:
            raise ConfigError(f"config key 'train.eval_every' = {cfg.train.eval_every}: evaluation during training is not "
                              f"available for model.algorithm={name} yet; set it to 0 and evaluate the run after "
                              f"training with `ganforge evaluate RUN`")

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


class HistoryPool:
    """The last `size` generated images a discriminator is shown (Shrivastava et al. 2017), as CycleGAN uses it:
    while not full, each new image is kept and shown; then each is, with probability 1/2, swapped for a random
    kept one (the kept one is shown) or shown itself. Random draws from the global torch RNG (saved in
    checkpoints); the kept images are algorithm state."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.images: torch.Tensor | None = None

    def query(self, fake: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return fake
        shown = []
        for img in fake.detach():
            img = img[None]
            if self.images is None or len(self.images) < self.size:
                self.images = img.clone() if self.images is None else torch.cat([self.images, img])
                shown.append(img)
            elif float(torch.rand(())) < 0.5:
                k = int(torch.randint(self.size, ()))
                shown.append(self.images[k:k + 1].clone())
                self.images[k] = img[0]
            else:
                shown.append(img)
        return torch.cat(shown)

    def state(self, like: torch.Tensor) -> torch.Tensor:
        return self.images if self.images is not None else like.new_zeros((0, *like.shape[1:]))

    def load(self, images: torch.Tensor) -> None:
        self.images = images.clone() if len(images) else None


def lsgan(logits: torch.Tensor, target: float) -> torch.Tensor:
    return (logits.float() - target).pow(2).mean()


@ALGORITHMS.register("cyclegan", help="CycleGAN: G: A->B, F: B->A, PatchGAN D_B and D_A, LSGAN + cycle and identity "
                                      "L1, history pools, linear lr decay (data.name = A, data.name_b = B)")
class CycleGAN(Translation):
    """CycleGAN (Zhu et al. 2017, arXiv 1703.10593). Roles: G (A -> B), F (B -> A), D (D_B, judges B) and D_A.
    Per step, on a batch a of A and b of B:
        L_G = MSE(D_B(G(a)), 1) + MSE(D_A(F(b)), 1) + lambda (|F(G(a)) - a| + |G(F(b)) - b|)
              + identity x lambda (|G(b) - b| + |F(a) - a|) + fidelity (|G(a) - a| + |F(b) - b|)
                                                                      (one optimiser for G and F)
        L_D = 1/2 [MSE(D_B(b), 1) + MSE(D_B(pool_B(G(a))), 0)] + the same for D_A   (one for both Ds)
    G's update first, then the discriminators' on images from the history pools. Both learning rates stay
    constant, then decay linearly to 0 from cyclegan.decay_from x train.steps to the end."""

    ema_roles = ("G", "F")
    export_roles = ("F",)

    def bind(self, source: Any) -> None:
        if not getattr(source, "unpaired", False):
            raise ConfigError("config key 'data.name_b': model.algorithm=cyclegan learns from two unpaired domains: set "
                              "data.name (domain A) and data.name_b (domain B)")
        c, h, w = source.input_shape
        self.input = ImageInput(int(c), int(h), int(w))
        self.same_channels = tuple(source.shape) == tuple(source.input_shape)
        self.identity = self.cfg.cyclegan.identity_weight > 0 and self.same_channels
        self.pools = {"A": HistoryPool(self.cfg.cyclegan.pool_size), "B": HistoryPool(self.cfg.cyclegan.pool_size)}

    @classmethod
    def check_config(cls, cfg: Any, defaults: Any) -> None:
        cls.refuse_shared(cfg, defaults)
        cls.refuse_changed(cfg, defaults, ("optim.lr_schedule",), "cyclegan has its own schedule (cyclegan.decay_from)")
        if cfg.train.on_nonfinite == "rollback":
            raise ConfigError("config key 'train.on_nonfinite' = 'rollback': cyclegan's learning-rate schedule would "
                              "undo the rollback's lower rates; use stop and --resume")
        if cfg.model.g or cfg.model.d or cfg.model.arch != "resnet":
            raise ConfigError(f"config key 'model.arch' = {cfg.model.arch!r}: model.algorithm=cyclegan uses the resnet "
                              f"family (ResNet G and F, PatchGAN D_B and D_A); use model.arch=resnet")

    def networks(self, shape: tuple[int, ...], kind: str, prior: Any) -> dict[str, Any]:
        return Algorithm.networks(self, shape, kind, prior)  # G, D, F, D_A (nets/build.py)

    def optimizers(self) -> dict[str, OptimizerSpec]:
        o = self.cfg.optim
        return {"G": OptimizerSpec(("G", "F"), o.lr_g, "generators"),
                "D": OptimizerSpec(("D", "D_A"), o.lr_d, "discriminators")}

    @torch.no_grad()
    def check_shapes(self, nets: dict[str, Any], source: Any, device: torch.device) -> tuple[int, int]:
        g = super().check_shapes({"G": nets["G"], "D": nets["D"]}, source, device)
        F = nets["F"]
        b = torch.zeros(2, *source.shape, device=device)
        was = F.training
        F.eval()
        try:
            out = F(b)
        finally:
            F.train(was)
        if tuple(out.shape[1:]) != tuple(source.input_shape):
            raise DataError(f"F turns domain B's images {list(source.shape)} into {list(out.shape[1:])} but domain A's "
                            f"are {list(source.input_shape)}")
        return 2 * g[0], 2 * g[1]

    def lr_factor(self, step: int) -> float:
        """The schedule at step (0-based): 1 until decay_from x its length (cyclegan.schedule_steps, else
        train.steps), then linearly down to 0 at its end."""
        return lr_factor("linear", step, self.cfg.cyclegan.schedule_steps or self.cfg.train.steps,
                         self.cfg.cyclegan.decay_from)

    def state_dict(self) -> dict[str, Any]:
        like = torch.zeros(1, *self.input.shape)
        return {"pool_A": self.pools["A"].state(like), "pool_B": self.pools["B"].state(like)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pools["A"].load(state["pool_A"].to(self.device))
        self.pools["B"].load(state["pool_B"].to(self.device))

    def step(self, st: Any, update: Update) -> dict[str, torch.Tensor]:
        if st.dist.enabled:
            raise ConfigError("model.algorithm=cyclegan is not available under torchrun yet (each rank would keep its "
                              "own history pools); train it in one process")
        cg, factor = st.cfg.cyclegan, self.lr_factor(st.step)
        for name, base in (("G", st.cfg.optim.lr_g), ("D", st.cfg.optim.lr_d)):
            for group in st.opts[name].param_groups:
                group["lr"] = base * factor
        G, F = st.train_nets["G"], st.train_nets["F"]
        D_B, D_A = st.nets["D"], st.nets["D_A"]
        batch = st.next_batch()
        b, a = batch.x, batch.x2
        D_B.requires_grad_(False), D_A.requires_grad_(False)
        with st.autocast():
            fake_b, fake_a = G(a), F(b)
            adv = lsgan(D_B(fake_b), 1.0) + lsgan(D_A(fake_a), 1.0)
            cycle = l1(F(fake_b), a) + l1(G(fake_a), b)
            g_loss = adv + cg.cycle_weight * cycle
            identity = torch.zeros((), device=a.device)
            if self.identity:
                identity = l1(G(b), b) + l1(F(a), a)
                g_loss = g_loss + cg.identity_weight * cg.cycle_weight * identity
            fidelity = torch.zeros((), device=a.device)
            if self.same_channels and cg.fidelity_weight > 0:
                fidelity = l1(fake_b, a) + l1(fake_a, b)
                g_loss = g_loss + cg.fidelity_weight * fidelity
        update("G", g_loss)
        D_B.requires_grad_(True), D_A.requires_grad_(True)
        shown_b, shown_a = self.pools["B"].query(fake_b.detach()), self.pools["A"].query(fake_a.detach())
        with st.autocast():
            real_b, real_a = st.train_nets["D"](b), st.train_nets["D_A"](a)
            d_b = 0.5 * (lsgan(real_b, 1.0) + lsgan(st.train_nets["D"](shown_b), 0.0))
            d_a = 0.5 * (lsgan(real_a, 1.0) + lsgan(st.train_nets["D_A"](shown_a), 0.0))
            d_loss = d_b + d_a
        update("D", d_loss)
        with torch.no_grad():
            return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), "g_adv": adv.detach(),
                    "cycle": cycle.detach(), "identity": identity.detach(),
                    "fidelity": fidelity.detach(), "D_B(b)": real_b.detach().float().mean(),
                    "D_A(a)": real_a.detach().float().mean(), "lr_factor": torch.tensor(factor)}

    # ---- pictures: A -> B -> A and B -> A -> B rows --------------------------------------------------------
    def rows(self, st: Any, n: int = PICTURE_ROWS) -> Any:
        src = getattr(self, "_picture_source", None)
        if src is None:
            src = cycle_picture_source(st.source)
            self._picture_source = src
        gen = st.generator()
        a, b = src.a.reference(n // 2 or 1), src.b.reference(n // 2 or 1)
        a2b = gen.translate(a, direction="a2b")
        b2a = gen.translate(b, direction="b2a")
        return a, a2b, gen.translate(a2b, direction="b2a"), b, b2a, gen.translate(b2a, direction="a2b")

    def samples_picture(self, st: Any, path: Path, title: str) -> Path:
        from ...report import panels_png

        a, a2b, aba, b, b2a, bab = self.rows(st)
        return panels_png([("A", a), ("G(A)", a2b), ("F(G(A))", aba), ("B", b), ("F(B)", b2a), ("G(F(B))", bab)],
                          path, nrow=2, title=title)

    def pictures(self, st: Any, out_dir: Any) -> list[Any]:
        return [self.samples_picture(st, Path(out_dir) / "translations.png",
                                     f"{st.cfg.name} step {st.step}: A -> B -> A | B -> A -> B")]


def cycle_picture_source(source: Any) -> Any:
    """Both domains' test splits where they have one (pictures show held-out images), else the training data."""
    from ...data.source import HAS_TEST_SPLIT, load_source, parse_name
    from ...data.unpaired import UnpairedSource

    def test_of(src: Any) -> Any:
        kind = parse_name(src.name)[0]
        if kind in HAS_TEST_SPLIT and "@" not in src.name:
            try:
                return load_source(f"{src.name}@test")
            except Exception:  # noqa: BLE001  (pictures fall back to training images)
                return src
        return src

    return UnpairedSource(test_of(source.a), test_of(source.b))
