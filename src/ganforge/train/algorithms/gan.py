"""gan: one G, one D and an objective of D's logits (DCGAN, WGAN(-GP), LSGAN, hinge, CGAN presets).

Per step: loss.n_critic discriminator updates (with the penalty's term, or its action after the
step), then one generator update through a frozen D. With n_critic=1 and train.reuse_fake the
generator update reuses the discriminator step's fake batch (one G forward per step)."""
from __future__ import annotations

from typing import Any

import torch

from ...augment import build_augment
from ...config import augment_names
from ...errors import ConfigError
from ...registries import ALGORITHMS, OBJECTIVES, PENALTIES
from .base import Algorithm, Update, score


def objective_and_penalty(cfg):  # type: ignore[no-untyped-def]
    """The Objective of loss.name and the Penalty of loss.penalty ('default': the objective's own)."""
    objective = OBJECTIVES.get(cfg.loss.name)
    name = cfg.loss.penalty
    return objective, PENALTIES.get(objective.default_penalty if name == "default" else name)


@ALGORITHMS.register("gan", help="one G and one D with loss.name's objective and loss.penalty (the default)")
class GAN(Algorithm):
    def __init__(self, cfg, num_classes, device) -> None:  # type: ignore[no-untyped-def]
        super().__init__(cfg, num_classes, device)
        self.objective, self.penalty = objective_and_penalty(cfg)
        if cfg.model.d_pack > 1 and num_classes > 0:
            raise ConfigError(f"config key 'model.d_pack' = {cfg.model.d_pack}: a pack holds samples of several "
                              f"classes and D takes one label per input, but this run is conditional ({num_classes} "
                              f"classes); set model.num_classes=0 or model.d_pack=1")
        self.augment = build_augment(cfg.train.augment) or (lambda x: x)  # DiffAugment on every batch D sees

    def bind(self, source: Any) -> None:
        super().bind(source)
        if augment_names(self.cfg.train.augment) and source.kind != "images":
            raise ConfigError(f"config key 'train.augment' = {self.cfg.train.augment!r}: the augmentations transform "
                              f"images, and dataset '{source.name}' holds {source.kind}; set train.augment=''")

    def top_k(self, logits: torch.Tensor, step: int) -> torch.Tensor:
        """loss.topk: the logits of the generated samples D scores highest, max(topk, topk_decay^(step/1000))
        of them (at least one); all of them with loss.topk=1."""
        keep = self.cfg.loss.topk
        if keep >= 1.0:
            return logits
        frac = max(keep, self.cfg.loss.topk_decay ** (step / 1000.0))
        return logits.topk(max(1, int(round(frac * logits.numel())))).values

    def judge(self, D: Any, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None,
              y_fake: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """D's logits (float32) for the real batch (labels y) and the generated one (labels y_fake, default y):
        two forward passes, or one over the two batches concatenated with loss.d_pass=joint (batch norm
        statistics of both)."""
        y_fake = y if y_fake is None else y_fake
        if self.cfg.loss.d_pass == "joint":
            logits = D(torch.cat([real, fake]), None if y is None else torch.cat([y, y_fake])).float()
            return logits[:logits.shape[0] // 2], logits[logits.shape[0] // 2:]
        return D(real, y).float(), D(fake, y_fake).float()

    def judge_generated(self, D: Any, real: torch.Tensor, y: torch.Tensor | None, fake: torch.Tensor,
                        y_fake: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """D's logits for G's update of the (augmented) generated batch: alone, or with loss.d_pass=joint beside
        the real batch (augmented here, only then) in one pass, so that D normalises it as it did when it learned
        (G's gradient then flows through the mixed batch statistics too). With a relativistic objective also
        the (augmented) real batch's logits from the same D, detached (else None): a fixed target for G's step (in the
        joint pass, how the real half's scores move with the generated batch through the shared statistics is
        not differentiated)."""
        relativistic = self.objective.relativistic
        if self.cfg.loss.d_pass == "joint":
            real_logits, fake_logits = self.judge(D, self.augment(real), fake, y, y_fake)
            return fake_logits, real_logits.detach() if relativistic else None
        fake_logits = D(fake, y_fake).float()
        if not relativistic:
            return fake_logits, None
        with torch.no_grad():
            return fake_logits, D(self.augment(real), y).float()

    def g_loss(self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None, step: int) -> torch.Tensor:
        """G's loss of its batch's logits (top-k first); a relativistic objective pairs them with real_logits."""
        if self.objective.relativistic:
            return self.objective.g_loss(fake_logits, real_logits)
        return self.objective.g_loss(self.top_k(fake_logits, step))

    def penalised(self, st: Any, first_critic: bool) -> bool:
        """Whether this D update adds the penalty's term (loss.penalty_every: lazy regularisation)."""
        every = st.cfg.loss.penalty_every
        return self.penalty.term is not None and (every == 1 or (first_critic and st.step % every == 0))

    @classmethod
    def check_config(cls, cfg: Any, defaults: Any) -> None:
        if cfg.loss.name in OBJECTIVES and OBJECTIVES.get(cfg.loss.name).relativistic and cfg.loss.topk < 1.0:
            raise ConfigError(f"config key 'loss.topk' = {cfg.loss.topk}: loss.name={cfg.loss.name} pairs each "
                              f"generated sample with a real one, and top-k training drops generated samples; "
                              f"set loss.topk=1 or another loss.name")
        if cfg.loss.penalty_every > 1 and objective_and_penalty(cfg)[1].term is None:
            raise ConfigError(f"config key 'loss.penalty_every' = {cfg.loss.penalty_every}: the penalty "
                              f"'{cfg.loss.penalty}' adds no term to D's loss (lazy regularisation spaces out a term "
                              f"such as r1 or gp); set loss.penalty=r1 or loss.penalty_every=1")
        if cfg.loss.schedule == "simultaneous":
            if cfg.loss.n_critic != 1:
                raise ConfigError(f"config key 'loss.n_critic' = {cfg.loss.n_critic}: loss.schedule=simultaneous "
                                  f"updates both players once per step; use loss.n_critic=1")
            if cfg.train.precision == "fp16":
                raise ConfigError("config key 'train.precision' = 'fp16': loss.schedule=simultaneous has no gradient "
                                  "scaler path; use bf16 or fp32")

    def step(self, st: Any, update: Update) -> dict[str, torch.Tensor]:
        if st.cfg.loss.schedule == "simultaneous":
            return self.simultaneous_step(st, update)
        cfg, G, D = st.cfg, st.G, st.D
        G_train, D_train = st.train_nets["G"], st.train_nets["D"]
        objective, penalty, n_classes, prior, aug = self.objective, self.penalty, st.num_classes, st.prior, self.augment
        # ---- discriminator: n_critic updates --------------------------------------------
        D.requires_grad_(True)
        reuse = cfg.train.reuse_fake and cfg.loss.n_critic == 1
        for critic in range(cfg.loss.n_critic):
            batch = st.next_batch()
            real, y, shard = batch.x, batch.y, batch.shard
            z = prior.draw(batch.size, st.device).z[shard]
            with st.autocast():
                if reuse:  # G's graph is kept for the generator update below
                    fake_g = G_train(z, y)
                    fake = fake_g.detach()
                else:
                    with torch.no_grad():
                        fake = G(z, y)
                real_logits, fake_logits = self.judge(D_train, aug(real), aug(fake), y)
                d_loss = objective.d_loss(real_logits, fake_logits)
            if self.penalised(st, critic == 0):  # in full precision, outside compiled and autocast regions
                d_loss = d_loss + cfg.loss.penalty_every * penalty.term(D, real, fake.float(), y, cfg.loss)
            update("D", d_loss)
            if penalty.after_step is not None:
                penalty.after_step(D, cfg.loss)

        # ---- generator: one update through a frozen D -------------------------------------
        D.requires_grad_(False)
        if reuse or self.objective.relativistic:  # the D step's labels (relativistic: each real partner's)
            y_g = y
        else:  # fresh labels
            y_g = torch.randint(n_classes, (batch.size,), device=st.device)[shard] if n_classes > 0 else None
        if not reuse:  # fresh noise
            z = prior.draw(batch.size, st.device).z[shard]
            with st.autocast():
                fake_g = G_train(z, y_g)
        with st.autocast():
            g_loss = self.g_loss(*self.judge_generated(D, real, y, aug(fake_g), y_g), st.step)
        update("G", g_loss)
        with torch.no_grad():
            return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(),
                    "D(x)": score(real_logits.detach(), objective.probabilistic),
                    "D(G(z))": score(fake_logits.detach(), objective.probabilistic)}

    def simultaneous_step(self, st: Any, update: Update) -> dict[str, torch.Tensor]:
        """loss.schedule=simultaneous: one forward pass of G and D; D's gradient of its loss and G's of its
        own, both at the same parameters, applied together (simultaneous gradient descent, as in
        keras-adversarial's simultaneous player optimiser)."""
        if st.dist.enabled:
            raise ConfigError("loss.schedule=simultaneous is not available under torchrun (DDP reduces gradients "
                              "in backward, which this schedule restricts per player); use alternating")
        cfg, D, objective, penalty, prior = st.cfg, st.D, self.objective, self.penalty, st.prior
        D.requires_grad_(True)
        batch = st.next_batch()
        real, y, shard = batch.x, batch.y, batch.shard
        z = prior.draw(batch.size, st.device).z[shard]
        with st.autocast():
            fake = st.train_nets["G"](z, y)
            real_logits, fake_logits = self.judge(st.train_nets["D"], self.augment(real), self.augment(fake), y)
            d_loss = objective.d_loss(real_logits, fake_logits)
            g_loss = self.g_loss(fake_logits, real_logits.detach(), st.step)
        if self.penalised(st, True):
            d_loss = d_loss + cfg.loss.penalty_every * penalty.term(D, real, fake.detach().float(), y, cfg.loss)
        update.together({"D": d_loss, "G": g_loss})
        if penalty.after_step is not None:
            penalty.after_step(D, cfg.loss)
        D.requires_grad_(False)
        with torch.no_grad():
            return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(),
                    "D(x)": score(real_logits.detach(), objective.probabilistic),
                    "D(G(z))": score(fake_logits.detach(), objective.probabilistic)}
