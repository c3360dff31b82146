"""began: Boundary Equilibrium GAN (Berthelot, Schumm and Metz 2017, arXiv 1703.10717).

D is an autoencoder, L(v) = mean |v - D(v)| its per-pixel L1 reconstruction loss. With the
equilibrium term k_t (saved in checkpoints):
    L_D = L(x) - k_t L(G(z)),    L_G = L(G(z)),
    k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1),
(both losses at D before its update, as in the paper; under torchrun averaged over the ranks, so every
rank's k_t stays the same)
and the convergence measure M_global = L(x) + |gamma L(x) - L(G(z))|; both are logged (k_t, M_global).
The fake batch of D's update is reused for G's (one G forward per step, as in the `gan` default).
"""
from __future__ import annotations

from typing import Any

import torch

from ...errors import ConfigError
from ...registries import ALGORITHMS
from ..dist import mean_across
from .base import GAN_LOOP_KEYS, Algorithm, Update


def reconstruction_loss(x: torch.Tensor, rec: torch.Tensor) -> torch.Tensor:
    """L(v): mean absolute reconstruction error (the paper's L1 loss, per pixel)."""
    return (x.float() - rec.float()).abs().mean()


@ALGORITHMS.register("began", help="BEGAN: autoencoder D, L1 reconstruction, equilibrium k_t (began.gamma, began.lambda_k)")
class BEGAN(Algorithm):
    d_kind = "autoencoder"
    conditional = False

    def __init__(self, cfg, num_classes, device) -> None:  # type: ignore[no-untyped-def]
        super().__init__(cfg, num_classes, device)
        self.k = torch.tensor(float(cfg.began.k0), device=device)

    @classmethod
    def check_config(cls, cfg: Any, defaults: Any) -> None:
        cls.refuse_changed(cfg, defaults, ("loss.name", "loss.penalty", "loss.gp_weight", "loss.clip"),
                           "BEGAN has its own objective (D's L1 reconstruction loss and the equilibrium term k_t)")
        cls.refuse_changed(cfg, defaults, GAN_LOOP_KEYS,
                           "BEGAN alternates one D and one G update per step on one fake batch")
        if cfg.model.arch not in ("began", "custom"):
            raise ConfigError(f"config key 'model.arch' = {cfg.model.arch!r}: model.algorithm=began needs an "
                              f"autoencoder discriminator; use model.arch=began")

    def check_output(self, out: Any, x: torch.Tensor) -> None:
        if not torch.is_tensor(out) or out.shape != x.shape:
            shape = list(out.shape) if torch.is_tensor(out) else type(out).__name__
            raise ConfigError(f"model.algorithm=began needs an autoencoder discriminator that returns a "
                              f"reconstruction of its input {list(x.shape)}; got {shape}")

    def adapt(self, G: Any, D: Any, d_output: str) -> dict[str, Any]:
        from ...nets.adapt import Adapted, adapt_generator
        from ...nets.keras import as_torch
        return {"G": adapt_generator(G, False), "D": Adapted(as_torch(D, "the discriminator D"), False, "AE")}

    def state_dict(self) -> dict[str, Any]:
        return {"k": self.k}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.k = state["k"].to(self.device)

    def step(self, st: Any, update: Update) -> dict[str, torch.Tensor]:
        b = st.cfg.began
        G_train, D_train, D = st.train_nets["G"], st.train_nets["D"], st.D
        D.requires_grad_(True)
        batch = st.next_batch()
        real = batch.x
        z = st.prior.draw(batch.size, st.device).z[batch.shard]
        with st.autocast():
            fake_g = G_train(z, None)
            fake = fake_g.detach()
            loss_real = reconstruction_loss(real, D_train(real, None))
            loss_fake = reconstruction_loss(fake, D_train(fake, None))
        d_loss = loss_real - self.k * loss_fake
        update("D", d_loss)
        D.requires_grad_(False)
        with st.autocast():
            g_loss = reconstruction_loss(fake_g, D(fake_g, None))
        update("G", g_loss)
        with torch.no_grad():  # L(x) and L(G(z)) at the same D (before its update), averaged over the ranks
            loss_real, loss_fake = mean_across(torch.stack([loss_real.detach(), loss_fake.detach()]), st.dist)
            balance = b.gamma * loss_real - loss_fake
            self.k = (self.k + b.lambda_k * balance).clamp(0.0, 1.0)
            m_global = loss_real + balance.abs()
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), "k_t": self.k.clone(),
                "M_global": m_global, "L(x)": loss_real, "L(G(z))": loss_fake}
