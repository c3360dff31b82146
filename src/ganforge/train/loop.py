"""The training loop, written out top to bottom.

Per step: `n_critic` discriminator updates, one generator update, the EMA update, then the
periodic jobs (log line, sample picture, checkpoint, evaluation). All randomness comes from the global
torch RNG (noise, dropout, penalty epsilons) and the sampler's own state, both of which a
checkpoint saves, so a resumed run continues bit-identically on CPU.
"""
from __future__ import annotations

import signal
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

import torch
from tqdm import tqdm

from ..errors import TrainingError, TrainingInterrupted
from .ema import ema_decay, update_ema
from .rundir import RunDir, say
from .state import TrainState

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class StopRequest:
    """Set by SIGINT/SIGTERM; the loop stops at the next step boundary after a checkpoint."""

    signum: int | None = None


@contextmanager
def catch_signals() -> Iterator[StopRequest]:
    """Turn SIGINT/SIGTERM into a stop request (main thread only); a second signal aborts at once."""
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.signum is not None:
            raise KeyboardInterrupt
        stop.signum = signum

    previous = {s: signal.signal(s, handler) for s in EXIT_CODES}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def check_finite(loss: torch.Tensor, which: str, st: TrainState, run: RunDir | None) -> None:
    """Stop before any optimiser step when a loss is NaN or Inf, naming the step and the last checkpoint."""
    if not bool(torch.isfinite(loss)):
        ckpts = run.checkpoints() if run is not None else []
        last = ckpts[-1] if ckpts else None
        where = f"the last good checkpoint is '{last}' (untouched)" if last else "no checkpoint was written yet"
        raise TrainingError(f"non-finite {which} loss ({float(loss.detach())}) at step {st.step + 1}; training stopped "
                            f"before the update. {where}. Try lower learning rates (optim.lr_g / optim.lr_d) "
                            f"or a different objective.")


def score(logits: torch.Tensor, probabilistic: bool) -> torch.Tensor:
    """Mean D output for the log: probability for BCE-type objectives, raw score otherwise."""
    return torch.sigmoid(logits).mean() if probabilistic else logits.mean()


def train_loop(st: TrainState, run: RunDir | None, history: list[dict[str, Any]]) -> None:
    """Train from st.step to cfg.train.steps, writing logs, pictures and checkpoints into run."""
    cfg, t = st.cfg, st.cfg.train
    G, D, dev = st.G, st.D, st.device
    objective, penalty = st.objective, st.penalty
    z_dim, n_classes = cfg.model.z_dim, st.num_classes
    n_pictures = 64 if st.source.kind == "images" else 1000

    sums = torch.zeros(4, device=dev)  # d_loss, g_loss, D(x), D(G(z)) since the last log line
    count, t_last = 0, time.perf_counter()
    bar = tqdm(total=t.steps, initial=st.step, disable=not t.progress, desc=cfg.name, unit="step",
               dynamic_ncols=True, mininterval=0.2 if sys.stderr.isatty() else 10.0)
    try:
        with catch_signals() as stop:
            while st.step < t.steps:
                # ---- discriminator: n_critic updates ------------------------------------------
                D.requires_grad_(True)
                for _ in range(cfg.loss.n_critic):
                    real, y = st.sampler.next()
                    real = real.to(dev, non_blocking=True)
                    y = y.to(dev, non_blocking=True) if (y is not None and n_classes > 0) else None
                    batch = real.shape[0]
                    z = torch.randn(batch, z_dim, device=dev)
                    with torch.no_grad():
                        fake = G(z, y)
                    real_logits, fake_logits = D(real, y), D(fake, y)
                    d_loss = objective.d_loss(real_logits, fake_logits)
                    if penalty.term is not None:
                        d_loss = d_loss + penalty.term(D, real, fake, y, cfg.loss)
                    check_finite(d_loss, "discriminator", st, run)
                    st.opt_D.zero_grad(set_to_none=True)
                    d_loss.backward()
                    st.opt_D.step()
                    if penalty.after_step is not None:
                        penalty.after_step(D, cfg.loss)

                # ---- generator: one update through a frozen D ---------------------------------
                D.requires_grad_(False)
                y_g = torch.randint(n_classes, (batch,), device=dev) if n_classes > 0 else None
                z = torch.randn(batch, z_dim, device=dev)
                g_loss = objective.g_loss(D(G(z, y_g), y_g))
                check_finite(g_loss, "generator", st, run)
                st.opt_G.zero_grad(set_to_none=True)
                g_loss.backward()
                st.opt_G.step()
                update_ema(st.G_ema, G, ema_decay(t.ema, st.step))
                st.step += 1

                # ---- bookkeeping on the device (read back only when logging) ------------------
                with torch.no_grad():
                    sums += torch.stack([d_loss.detach(), g_loss.detach(),
                                         score(real_logits.detach(), objective.probabilistic),
                                         score(fake_logits.detach(), objective.probabilistic)]).float()
                count += 1
                bar.update(1)

                # ---- periodic jobs --------------------------------------------------------------
                done = st.step == t.steps
                if st.step % t.log_every == 0 or done:
                    now = time.perf_counter()
                    d, g, dx, dgz = (sums / count).tolist()
                    record = {"step": st.step, "d_loss": d, "g_loss": g, "D(x)": dx, "D(G(z))": dgz,
                              "samples_per_s": count * batch / max(now - t_last, 1e-9)}
                    history.append(record)
                    if run is not None:
                        run.append_log(record)
                    bar.set_postfix(d_loss=f"{d:.3f}", g_loss=f"{g:.3f}", refresh=False)
                    sums.zero_()
                    count, t_last = 0, now
                if run is not None and (st.step % t.sample_every == 0 or done):
                    run.save_samples(st, n_pictures)
                if run is not None and (st.step % t.ckpt_every == 0 or done):
                    run.save_checkpoint(st)
                if run is not None and t.eval_every and (st.step % t.eval_every == 0 or done):
                    rec = run.evaluate(st)
                    shown = {k: v for k, v in rec.items() if isinstance(v, float)}
                    bar.write(f"step {st.step}: " + ", ".join(f"{k} {v:.4g}" for k, v in shown.items()), file=sys.stderr)
                if stop.signum is not None:
                    name = signal.Signals(stop.signum).name
                    saved = ""
                    if run is not None:
                        saved = f"; checkpoint '{run.save_checkpoint(st)}' written, continue with --resume auto"
                    raise TrainingInterrupted(f"{name} at step {st.step}{saved}", EXIT_CODES[stop.signum])
    finally:
        bar.close()
    if run is not None:
        run.write_report(st)
        say(f"finished {st.step} steps; pictures: {run.path}/real_vs_fake.png, losses.png, samples.gif, samples/")
