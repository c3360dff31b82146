"""vae and vaegan: an encoder E beside the decoder G (Kingma and Welling 2014; Larsen et al. 2016, arXiv 1512.09300).

E(x) = (mu, log sigma^2) of q(z | x), a Gaussian head on a trunk of the family's discriminator (nets/heads.py);
z = mu + sigma * eps (the reparameterisation); G decodes z. Per sample (sums over dimensions, means over the
batch):
    KL    = KL(q(z | x) || N(0, I)) = -1/2 sum(1 + log sigma^2 - mu^2 - sigma^2)
vae:    E and G minimise  BCE((G(z) + 1) / 2, (x + 1) / 2) + vaegan.kl_weight x KL      (Bernoulli pixels; one optimiser)
vaegan: with D_l the activations of D's layer vaegan.feature_layer and x_r = G(z), x_p = G(z_p), z_p ~ N(0, I):
    L_feat = 1/2 sum (D_l(x_r) - D_l(x))^2         (a unit Gaussian in D's feature space)
    L_GAN  = BCE(D(x), 1) + BCE(D(x_r), 0) + BCE(D(x_p), 0)
    E minimises vaegan.kl_weight x KL + L_feat; G minimises vaegan.gamma x L_feat + BCE(D(x_r), 1) + BCE(D(x_p), 1);
    D minimises L_GAN (its step first, on detached images); E and G step together, each on the gradient of
    its own loss at the same parameters (the paper's Algorithm 1: three optimisers, D's features a fixed
    target for E and G).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ...errors import ConfigError, DataError
from ...nets.heads import feature_activation
from ...registries import ALGORITHMS
from ..dist import mean_across
from .base import GAN_LOOP_KEYS, Algorithm, OptimizerSpec, Update


def kl_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of KL(N(mu, exp(logvar)) || N(0, I)), summed over dimensions."""
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()


def bernoulli_nll(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of the per-sample sum of BCE between decoder output and data, both in [-1, 1]."""
    p = ((out.float() + 1) / 2).clamp(1e-6, 1 - 1e-6)
    return F.binary_cross_entropy(p, (x.float() + 1) / 2, reduction="sum") / len(x)


def reparameterise(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return mu + torch.randn_like(mu) * (0.5 * logvar).exp()


class Autoencoding(Algorithm):
    """What vae and vaegan share: the encoder role, its network and picture of reconstructions."""

    conditional = False
    ema_roles = ("G", "E")
    export_roles = ("E",)
    uses_d = True

    @classmethod
    def check_config(cls, cfg: Any, defaults: Any) -> None:
        cls.refuse_changed(cfg, defaults, GAN_LOOP_KEYS,
                           f"{cfg.model.algorithm} makes one update of each network per step")
        if cfg.model.g or cfg.model.d:
            raise ConfigError(f"config key 'model.g': model.algorithm={cfg.model.algorithm} builds its encoder on the "
                              f"network family's discriminator trunk; use model.arch=dcgan or mlp (your own G and D "
                              f"are not supported with an encoder yet)")
        if cfg.train.precision == "fp16":
            raise ConfigError(f"config key 'train.precision' = 'fp16': {cfg.model.algorithm} steps its encoder and "
                              f"decoder together, which has no gradient scaler path; use bf16 or fp32")

    def bind(self, source: Any) -> None:
        super().bind(source)
        if source.kind != "images":
            raise ConfigError(f"config key 'data.name': model.algorithm={self.cfg.model.algorithm} encodes images; "
                              f"'{source.name}' holds points")

    def networks(self, shape: tuple[int, ...], kind: str, prior: Any) -> dict[str, Any]:
        nets = Algorithm.networks(self, shape, kind, prior)  # G, D and E (nets/build.py)
        return nets if self.uses_d else {"G": nets["G"], "E": nets["E"]}

    @torch.no_grad()
    def check_extra(self, nets: dict[str, Any], source: Any, device: torch.device) -> None:
        E = nets["E"]
        was = E.training
        E.eval()
        try:
            mu, logvar = E(torch.zeros(2, *source.shape, device=device))
        finally:
            E.train(was)
        if tuple(mu.shape) != (2, self.cfg.model.z_dim) or mu.shape != logvar.shape:
            raise DataError(f"the encoder gives {list(mu.shape)} means for images {list(source.shape)}, not "
                            f"[2, {self.cfg.model.z_dim}] (model.z_dim)")

    def encode(self, st: Any, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = st.train_nets["E"](x)
        logvar = logvar.float().clamp(-30.0, 20.0)
        return mu.float(), logvar, reparameterise(mu.float(), logvar)

    def pictures(self, st: Any, out_dir: Any) -> list[Any]:
        """reconstructions.png: rows of test images (input | reconstruction pairs); interpolations.png: rows
        walking between the codes of two test images (the first and last tiles decode those two codes)."""
        gen, out_dir = st.generator(), Path(out_dir)
        return [reconstructions_png(gen, st.source, out_dir / "reconstructions.png",
                                    f"{st.cfg.name} step {st.step}: input | reconstruction"),
                interpolations_png(gen, st.source, out_dir / "interpolations.png")]


@ALGORITHMS.register("vae", help="variational autoencoder: encoder E (Gaussian head on D's trunk), decoder G, "
                                 "Bernoulli pixel loss + vaegan.kl_weight x KL; no D (the VAE-GAN baseline)")
class VAE(Autoencoding):
    uses_d = False
    ema_roles = ("G", "E")

    @classmethod
    def check_config(cls, cfg: Any, defaults: Any) -> None:
        super().check_config(cfg, defaults)
        cls.refuse_changed(cfg, defaults, ("optim.lr_d", "vaegan.gamma", "vaegan.feature_layer", "loss.name"),
                           "vae has no discriminator")

    def optimizers(self) -> dict[str, OptimizerSpec]:
        return {"G": OptimizerSpec(("E", "G"), self.cfg.optim.lr_g, "encoder and decoder")}

    def step(self, st: Any, update: Update) -> dict[str, torch.Tensor]:
        x = st.next_batch().x
        with st.autocast():
            mu, logvar, z = self.encode(st, x)
            recon = bernoulli_nll(st.train_nets["G"](z), x)
        kl = kl_normal(mu, logvar)
        loss = recon + self.cfg.vaegan.kl_weight * kl
        update("G", loss)
        return {"g_loss": loss.detach(), "recon": recon.detach(), "kl": kl.detach()}  # g_loss: the negative ELBO


@ALGORITHMS.register("vaegan", help="VAE-GAN (Larsen et al. 2016): encoder E, decoder G, D; reconstruction in D's "
                                    "features (vaegan.feature_layer), vaegan.gamma, three optimisers")
class VAEGAN(Autoencoding):
    @classmethod
    def check_config(cls, cfg: Any, defaults: Any) -> None:
        super().check_config(cfg, defaults)
        if cfg.loss.name != "ns" or cfg.loss.penalty not in ("default", "none"):
            raise ConfigError(f"config key 'loss.name' = {cfg.loss.name!r}: vaegan's GAN term is binary "
                              f"cross-entropy with the non-saturating G loss; use loss.name=ns (the default) and no "
                              f"penalty")

    def optimizers(self) -> dict[str, OptimizerSpec]:
        o = self.cfg.optim
        return {"E": OptimizerSpec(("E",), o.lr_g, "encoder"), "G": OptimizerSpec(("G",), o.lr_g, "decoder"),
                "D": OptimizerSpec(("D",), o.lr_d, "discriminator")}

    def step(self, st: Any, update: Update) -> dict[str, torch.Tensor]:
        v, D = st.cfg.vaegan, st.nets["D"]
        G, D_train = st.train_nets["G"], st.train_nets["D"]
        batch = st.next_batch()
        x = batch.x
        zp = st.prior.draw(batch.size, st.device).z
        bce = F.binary_cross_entropy_with_logits
        with st.autocast():
            mu, logvar, z = self.encode(st, x)
            x_r, x_p = G(z), G(zp)
        # ---- D: real against both kinds of decoded image ------------------------------------
        D.requires_grad_(True)
        with st.autocast():
            real = D_train(x).float()
            fake_r, fake_p = D_train(x_r.detach()).float(), D_train(x_p.detach()).float()
        one, zero = torch.ones_like(real), torch.zeros_like(real)
        d_real, d_fake = bce(real, one), 0.5 * (bce(fake_r, zero) + bce(fake_p, zero))
        d_loss = d_real + 2 * d_fake  # BCE(D(x), 1) + BCE(D(x_r), 0) + BCE(D(x_p), 0)
        train_d, train_g = self.balance(st, d_real, d_fake)
        if train_d:
            update("D", d_loss)
        # ---- E and G, through a frozen D -------------------------------------------------------
        D.requires_grad_(False)
        # x and x_r go through D as one batch, so that D's batch normalisation measures both with the same
        # statistics and the feature distance sees every difference between them (not each batch's own centring)
        n = x.shape[0]
        with st.autocast():
            f, logit = feature_activation(D, torch.cat([x, x_r]), v.feature_layer)
            logit_p = D(x_p)
        f_x, f_r, logit_r = f[:n].detach().float(), f[n:].float(), logit[n:]
        feat = 0.5 * (f_r - f_x).pow(2).flatten(1).sum(1).mean()
        kl = kl_normal(mu, logvar)
        g_adv = bce(logit_r.float(), one) + bce(logit_p.float(), one)
        g_loss = v.gamma * feat + (g_adv if train_g else 0.0 * g_adv)
        update.together({"E": v.kl_weight * kl + feat, "G": g_loss})
        with torch.no_grad():
            return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), "g_adv": g_adv.detach(),
                    "feat": feat.detach(), "kl": kl.detach(),
                    "D(x)": torch.sigmoid(real.detach()).mean(), "D(G(z))": torch.sigmoid(fake_p.detach()).mean(),
                    **({"d_on": torch.tensor(float(train_d)), "g_adv_on": torch.tensor(float(train_g))}
                       if v.margin > 0 else {})}

    @staticmethod
    def balance(st: Any, d_real: torch.Tensor, d_fake: torch.Tensor) -> tuple[bool, bool]:
        """(train D, keep G's GAN term) this step, from D's cross-entropies averaged over the ranks (so every
        rank decides the same): vaegan.margin's rule; (True, True) when it is off."""
        v = st.cfg.vaegan
        if v.margin <= 0:
            return True, True
        losses = mean_across(torch.stack([d_real.detach(), d_fake.detach()]).float(), st.dist).tolist()
        train_d = min(losses) >= v.equilibrium - v.margin
        train_g = max(losses) <= v.equilibrium + v.margin
        return (True, True) if not (train_d or train_g) else (train_d, train_g)


def held_out(source: Any, n: int) -> Any:
    """The first n held-out images (the training data's when it has no test split), uint8 NHWC."""
    from ...data.source import HAS_TEST_SPLIT, load_source, parse_name

    src = source
    if parse_name(source.name)[0] in HAS_TEST_SPLIT and "@" not in source.name:
        try:
            src = load_source(f"{source.name}@test")
        except Exception:  # noqa: BLE001  (pictures fall back to training images)
            src = source
    return src.reference(n)


def reconstructions_png(gen: Any, source: Any, path: Path, title: str, n: int = 32) -> Path:
    """Input | reconstruction pairs of n held-out images."""
    from ...report import panels_png

    x = held_out(source, n)
    return panels_png([("input", x), ("reconstruction", gen.reconstruct(x))], path, nrow=4, title=title)


def interpolations_png(gen: Any, source: Any, path: Path, rows: int = 8, steps: int = 10) -> Path:
    """rows of steps images between the encoded held-out images i and rows + i."""
    from ...report import grid_png

    x = held_out(source, 2 * rows)
    rows = len(x) // 2
    return grid_png(gen.decode(gen.interpolate(steps=steps, between=(x[:rows], x[rows:]))), path, nrow=steps)
