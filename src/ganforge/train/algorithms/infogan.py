"""infogan: InfoGAN (Chen et al. 2016, arXiv 1606.03657).

G sees [z, onehot(c), c_cont] from the code prior (priors.CodePrior: infogan.categorical values,
infogan.continuous codes uniform on [-1, 1]). D carries a Q head on its trunk and returns
(logits, q). The mutual-information lower bound is trained as the loss
    L_I = CE(q_cat, c) + 1/2 sum_j (q_cont_j - c_cont_j)^2
(a categorical posterior and a unit-variance Gaussian one), weighted by infogan.lambda_info and added
to D's update (so Q, which shares D's optimiser, learns it on the fake batch) and to G's.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ...errors import ConfigError
from ...priors import CodePrior
from ...registries import ALGORITHMS
from .base import GAN_LOOP_KEYS, Algorithm, Update, score
from .gan import objective_and_penalty


def info_loss(q: torch.Tensor, prior: CodePrior, code: torch.Tensor | None, code_cont: torch.Tensor) -> torch.Tensor:
    """-log Q(c | x) up to a constant: cross-entropy of the categorical code plus the unit-Gaussian NLL of
    the continuous codes."""
    k = prior.categorical
    loss = q.new_zeros(())
    if k:
        loss = loss + F.cross_entropy(q[:, :k], code)
    if prior.continuous:
        loss = loss + 0.5 * (q[:, k:] - code_cont).pow(2).sum(1).mean()
    return loss


@ALGORITHMS.register("infogan", help="InfoGAN: categorical and continuous latent codes, Q head on D's trunk, "
                                     "mutual-information term (infogan.*)")
class InfoGAN(Algorithm):
    conditional = False
    export_roles = ("D",)  # D carries Q: exports can infer the codes of images

    def __init__(self, cfg, num_classes, device) -> None:  # type: ignore[no-untyped-def]
        super().__init__(cfg, num_classes, device)
        self.objective, self.penalty = objective_and_penalty(cfg)

    @classmethod
    def check_config(cls, cfg: Any, defaults: Any) -> None:
        cls.refuse_changed(cfg, defaults, GAN_LOOP_KEYS,
                           "InfoGAN alternates one D and one G update per step on one fake batch")

    def prior(self) -> CodePrior:
        i = self.cfg.infogan
        return CodePrior(self.cfg.model.z_dim, i.categorical, i.continuous)

    def adapt(self, G: Any, D: Any, d_output: str) -> dict[str, Any]:
        from ...nets.adapt import Adapted, adapt_generator
        from ...nets.keras import as_torch
        return {"G": adapt_generator(G, False),
                "D": Adapted(as_torch(D, "the discriminator D"), False, "DQ", "probs" if d_output == "probs" else "logits")}

    def check_output(self, out: Any, x: torch.Tensor) -> None:
        q_dim = self.cfg.infogan.categorical + self.cfg.infogan.continuous
        pair = isinstance(out, tuple) and len(out) == 2 and all(torch.is_tensor(o) for o in out)
        if not (pair and out[0].shape == (2,) and out[1].shape == (2, q_dim)):
            got = [list(getattr(o, "shape", [])) for o in out] if isinstance(out, tuple) else list(getattr(out, "shape", []))
            raise ConfigError(f"model.algorithm=infogan needs a discriminator with a Q head sharing its trunk, "
                              f"returning (logits [N], q [N, {q_dim}]) (infogan.categorical + infogan.continuous); "
                              f"got {got}")

    def step(self, st: Any, update: Update) -> dict[str, torch.Tensor]:
        cfg, D, prior, lam = st.cfg, st.D, st.prior, st.cfg.infogan.lambda_info
        G_train, D_train = st.train_nets["G"], st.train_nets["D"]
        objective, penalty = self.objective, self.penalty
        D.requires_grad_(True)
        batch = st.next_batch()
        real, shard = batch.x, batch.shard
        draw = prior.draw(batch.size, st.device)
        z, code = draw.z[shard], None if draw.code is None else draw.code[shard]
        code_cont = draw.code_cont[shard]
        with st.autocast():
            fake_g = G_train(z, None)
            fake = fake_g.detach()
            real_logits, _ = D_train(real, None)
            fake_logits, q_fake = D_train(fake, None)
            d_loss = objective.d_loss(real_logits.float(), fake_logits.float())
        info_d = info_loss(q_fake.float(), prior, code, code_cont)
        if penalty.term is not None:
            d_loss = d_loss + penalty.term(lambda x, y: D(x, y)[0], real, fake.float(), None, cfg.loss)
        update("D", d_loss + lam * info_d)
        if penalty.after_step is not None:
            penalty.after_step(D, cfg.loss)
        D.requires_grad_(False)
        with st.autocast():
            logits_g, q_g = D(fake_g, None)
            if objective.relativistic:  # each generated score against a real one's, from the updated D
                with torch.no_grad():
                    real_g = D(real, None)[0].float()
                g_loss = objective.g_loss(logits_g.float(), real_g)
            else:
                g_loss = objective.g_loss(logits_g.float())
        info_g = info_loss(q_g.float(), prior, code, code_cont)
        update("G", g_loss + lam * info_g)
        with torch.no_grad():
            out = {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), "info_loss": info_g.detach(),
                   "D(x)": score(real_logits.detach().float(), objective.probabilistic),
                   "D(G(z))": score(fake_logits.detach().float(), objective.probabilistic)}
            if prior.categorical:
                out["Q_acc"] = (q_fake[:, :prior.categorical].argmax(1) == code).float().mean()
        return out

    def pictures(self, st: Any, out_dir: Any) -> list[Any]:
        """codes.png: one row per categorical value, columns sweeping each continuous code from -1 to 1
        (one panel per continuous code; the paper's Figure 2), noise fixed by train.seed."""
        if st.source.kind != "images" or not st.prior.categorical or not st.prior.continuous:
            return []
        return [code_sweep_png(st.generator(), st.source, Path(out_dir) / "codes.png", st.cfg.train.seed + 3)]


def code_sweep_png(gen: Any, source: Any, path: Path, seed: int, columns: int = 10) -> Path:
    """The code sweep picture of an InfoGAN generator (see InfoGAN.pictures)."""
    from ...report import image_grid, save_image

    prior = gen.prior
    z = gen.draw(1, seed).z[:, :prior.z_dim]
    panels = []
    for j in range(prior.continuous):
        code = torch.arange(prior.categorical).repeat_interleave(columns)
        cont = torch.zeros(len(code), prior.continuous)
        cont[:, j] = torch.linspace(-1, 1, columns).repeat(prior.categorical)
        x = gen.sample_z(prior.with_codes(z.expand(len(code), -1), code, cont))
        panels.append(image_grid(gen.decode(x), columns))
    gap = np.full((panels[0].shape[0], 16, panels[0].shape[2]), 255, np.uint8)
    both = np.concatenate([p for panel in panels for p in (panel, gap)][:-1], 1)
    return save_image(both, path)
