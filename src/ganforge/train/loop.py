"""The training loop, written out top to bottom.

Per step: the algorithm's step (train/algorithms/: for gan, `n_critic` discriminator updates and one
generator update), each update through this loop's `update`, the EMA update, then the periodic jobs
(log line, sample picture, checkpoint, evaluation). All randomness comes from the global
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
from torch import nn
from tqdm import tqdm

from .. import interrupts
from ..errors import TrainingError, TrainingInterrupted
from .ema import ema_decay, update_ema
from .schedule import lr_factor
from .rundir import RunDir, say
from . import dist as distributed
from .state import TrainState

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}

class StopRequest:
    """Set by SIGINT/SIGTERM; the loop stops at the next step boundary after a checkpoint."""

    signum: int | None = None
    repeats: int = 0  # signals after the first: noted, never an abort (the checkpoint is written first)


@contextmanager
def catch_signals() -> Iterator[StopRequest]:
    """Turn SIGINT/SIGTERM into a stop request (main thread only). A second signal does not abort: it
    would cut the checkpoint the first one asked for, so it is noted and the save goes on (kill -9
    aborts, losing the steps since the last checkpoint)."""
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.signum is not None:
            stop.repeats += 1
            print("\nganforge: already stopping: the checkpoint is written at the end of this step, then ganforge "
                  "exits; wait for it (kill -9 would abort and lose the steps since the last checkpoint)",
                  file=sys.stderr, flush=True)
            return
        stop.signum = signum

    previous = {s: signal.signal(s, handler) for s in EXIT_CODES}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, signal.SIG_IGN if (interrupts.in_command and stop.signum is not None) else h)


class NonFiniteStep(TrainingError):
    """A NaN or Inf in a loss or gradient, caught before the optimiser step."""

    def __init__(self, msg: str, step: int, skipped: bool = False) -> None:
        super().__init__(msg)
        self.step = step
        self.skipped = skipped  # train.finite_check=device: found later; the bad updates were skipped


def check_step(loss: torch.Tensor, net: nn.Module | list[tuple[str, nn.Parameter]], which: str,
               st: TrainState) -> None:
    """Before an optimiser step: the loss and every gradient of net (a module, or named parameters) must be
    finite (one host sync). Fast path: one multi-tensor norm over all gradients (a NaN or Inf anywhere makes
    the sum non-finite); only if that fails are the tensors checked one by one, which also clears a sum that
    merely overflowed. Under torchrun the verdict is agreed over the ranks (a loss can be non-finite on one
    rank only), so every rank stops at the same step instead of one waiting for the others in a collective."""
    named = net.named_parameters() if isinstance(net, nn.Module) else net
    grads = [(n, p.grad) for n, p in named if p.grad is not None]
    norms = torch._foreach_norm([g for _, g in grads]) if grads else []
    what = None
    if not bool(torch.isfinite(torch.stack([loss.detach().float().sum()] + [v.float() for v in norms]).sum())):
        flags = torch.stack([torch.isfinite(loss).all()] + [torch.isfinite(g).all() for _, g in grads])
        if not bool(flags[0]):
            what = f"{which} loss ({float(loss.detach())})"
        elif not bool(flags.all()):
            bad = [n for (n, _), ok in zip(grads, flags[1:].tolist()) if not ok]
            what = f"gradient of the {which} ({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''})"
    if distributed.any_true(what is not None, st.dist):
        what = what or f"{which} loss on another rank"
    if what is not None:
        raise NonFiniteStep(f"non-finite {what} at step {st.step + 1}", st.step + 1)


CODES = 16  # st.nonfinite[1] holds 1 + the optimiser's position in st.opts (at most CODES - 1 optimisers)


def flag_step(loss: torch.Tensor, params: list[nn.Parameter], opt: torch.optim.Optimizer, code: int,
              st: TrainState) -> None:
    """train.finite_check=device: the same check as check_step without a host sync. The fused optimiser
    skips the update when found_inf is set, and the first bad step is recorded in st.nonfinite for
    raise_pending. Max-norms, so huge finite gradients never count as non-finite."""
    grads = [p.grad for p in params if p.grad is not None]
    norms = [v.float() for v in torch._foreach_norm(grads, ord=float("inf"))] if grads else []
    bad = ~torch.isfinite(torch.stack([loss.detach().float().abs().max()] + norms).max())
    opt.found_inf = bad.float()
    first = bad & (st.nonfinite[0] == 0)
    st.nonfinite[0].masked_fill_(first, st.step + 1)
    st.nonfinite[1].masked_fill_(first, code)


def raise_pending(st: TrainState) -> None:
    """train.finite_check=device: raise NonFiniteStep for the first bad step since the last call (one sync)."""
    if st.nonfinite is None:
        return
    none = 1 << 62  # the earliest bad step over the ranks, the same verdict on every rank
    key = torch.where(st.nonfinite[0] > 0, st.nonfinite[0] * CODES + st.nonfinite[1], none)
    key = int(distributed.min_across(key.reshape(1), st.dist).item())
    step, code = (0, 0) if key == none else divmod(key, CODES)
    if step:
        st.nonfinite.zero_()
        which = list(st.opt_labels.values())[code - 1]
        raise NonFiniteStep(f"non-finite {which} loss or gradient at step {step}; seen at step "
                            f"{st.step + 1} (train.finite_check=device: the non-finite updates were skipped)",
                            step, skipped=True)


def _stopped(e: NonFiniteStep, run: RunDir | None, rank: int = 0) -> TrainingError:
    ckpts = run.checkpoints() if run is not None else []
    where = f"the last good checkpoint is '{ckpts[-1]}' (untouched)" if ckpts else "no checkpoint was written yet"
    if run is None and rank > 0:
        where = f"(rank {rank}: rank 0 names the last good checkpoint)"
    stopped = "training stopped" if e.skipped else "training stopped before the update"
    return TrainingError(f"{e}; {stopped}. {where}. Try lower learning rates "
                         f"(optim.lr_g / optim.lr_d), a different objective, or train.on_nonfinite=rollback")


def rollback(st: TrainState, run: RunDir, e: NonFiniteStep) -> None:
    """Reload the newest valid checkpoint and set every learning rate to train.rollback_lr_factor times
    the rate that failed (saved with the optimisers in later checkpoints, so a resume keeps them)."""
    tree, path = run.newest_valid()
    if tree is None:
        raise _stopped(e, run)
    failed = {name: [g["lr"] for g in opt.param_groups] for name, opt in st.opts.items()}  # the rates that failed
    st.load_state_dict(tree)
    run.cut_back(st.step)
    for name, opt in st.opts.items():
        for group, lr in zip(opt.param_groups, failed[name]):
            group["lr"] = lr * st.cfg.train.rollback_lr_factor
            if "base_lr" in group:  # optim.lr_schedule: the schedule continues from the lowered base
                group["base_lr"] *= st.cfg.train.rollback_lr_factor
    lrs = ", ".join(f"{name} {opt.param_groups[0]['lr']:.3g}" for name, opt in st.opts.items())
    say(f"{e}: rolled back to '{path}' (step {st.step}); learning rates now {lrs}")


def update(st: TrainState, name: str, loss: torch.Tensor) -> None:
    """The loop's update of optimiser `name` (st.opts): backward and optimiser step, after the finite checks.
    With fp16 the scaler owns gradient overflow (it skips the step and lowers the scale, as designed); a
    non-finite loss still stops the run."""
    opt, which = st.opts[name], st.opt_labels[name]
    opt.zero_grad(set_to_none=True)
    scaler = st.scalers.get(name)
    if scaler is None:
        loss.backward()
        check_grads(st, name, loss)
        opt.step()
        return
    scaler.scale(loss).backward()
    if not bool(torch.isfinite(loss)):
        raise NonFiniteStep(f"non-finite {which} loss ({float(loss.detach())}) at step {st.step + 1}", st.step + 1)
    scaler.step(opt)
    scaler.update()


def update_together(st: TrainState, losses: dict[str, torch.Tensor]) -> None:
    """Simultaneous updates (loss.schedule=simultaneous): each optimiser's gradient of its own loss, all from
    one graph (backward restricted to that optimiser's parameters), checked; then every optimiser steps."""
    for i, (name, loss) in enumerate(losses.items()):
        st.opts[name].zero_grad(set_to_none=True)
        loss.backward(inputs=[p for p in st.params_of(name) if p.requires_grad], retain_graph=i < len(losses) - 1)
        check_grads(st, name, loss)
    for name in losses:
        st.opts[name].step()


def check_grads(st: TrainState, name: str, loss: torch.Tensor) -> None:
    roles, which = st.opt_roles[name], st.opt_labels[name]
    if st.nonfinite is not None:
        flag_step(loss, st.params_of(name), st.opts[name], list(st.opts).index(name) + 1, st)
    elif len(roles) == 1:
        check_step(loss, st.nets[roles[0]], which, st)
    else:
        check_step(loss, [(f"{r}.{n}", p) for r in roles for n, p in st.nets[r].named_parameters()], which, st)


class Updater:
    """What an algorithm's step calls: update(name, loss), or update.together({name: loss, ...})."""

    def __init__(self, st: TrainState) -> None:
        self.st = st

    def __call__(self, name: str, loss: torch.Tensor) -> None:
        update(self.st, name, loss)

    def together(self, losses: dict[str, torch.Tensor]) -> None:
        update_together(self.st, losses)


def schedule_lr(st: TrainState) -> None:
    """Set every optimiser's rate to its base rate x lr_factor; the base rate is kept in the param group
    ('base_lr'), so checkpoints carry it and a rollback lowers it."""
    o = st.cfg.optim
    if o.lr_schedule == "constant":
        return
    factor = lr_factor(o.lr_schedule, st.step, o.schedule_steps or st.cfg.train.steps, o.decay_from)
    for opt in st.opts.values():
        for group in opt.param_groups:
            group["lr"] = group.setdefault("base_lr", group["lr"]) * factor


def train_step(st: TrainState) -> tuple[dict[str, torch.Tensor], int]:
    """One step of the algorithm (its updates through the loop's update), then the EMA update of each EMA
    role. Every loss and gradient is checked before its optimiser step (NonFiniteStep). Does not advance
    st.step. Returns the scalars to log and the global batch size (samples/s counts the global batch)."""
    schedule_lr(st)
    scalars = st.algorithm.step(st, Updater(st))
    t = st.cfg.train
    decay = 0.0 if st.step < t.ema_start else ema_decay(t.ema, st.step - t.ema_start)
    for role, net in st.ema.items():
        update_ema(net, st.nets[role], decay)
    return scalars, st.last_batch


def due(step: int, t: Any) -> bool:
    """Whether step ends with a log line, picture, checkpoint or evaluation (the same on every rank)."""
    jobs = [t.log_every, t.sample_every, t.ckpt_every] + ([t.eval_every] if t.eval_every else [])
    return step == t.steps or any(step % every == 0 for every in jobs)


def train_loop(st: TrainState, run: RunDir | None, history: list[dict[str, Any]]) -> None:
    """Train from st.step to cfg.train.steps, writing logs, pictures and checkpoints into run."""
    cfg, t = st.cfg, st.cfg.train
    n_pictures = 64 if st.source.kind == "images" else 1000

    sums: torch.Tensor | None = None  # the algorithm's scalars summed on the device since the last log line
    count, t_last, rollbacks = 0, time.perf_counter(), 0
    desc = cfg.name if st.precision == "fp32" else f"{cfg.name} ({st.precision})"
    bar = tqdm(total=t.steps, initial=st.step, disable=not (t.progress and st.dist.main), desc=desc, unit="step",
               dynamic_ncols=True, mininterval=0.2 if sys.stderr.isatty() else 10.0)
    try:
        with catch_signals() as stop:
            missed = interrupts.take()  # a start-up signal some library swallowed: stop before the first step
            if missed is not None:
                raise TrainingInterrupted(f"{signal.Signals(missed).name} during start-up, before step {st.step + 1}: "
                                          "no checkpoint was written at this stop; every file already written is "
                                          "complete", EXIT_CODES[missed])
            while st.step < t.steps:
                try:
                    scalars, batch = train_step(st)
                    if st.nonfinite is not None and due(st.step + 1, t):
                        raise_pending(st)  # before anything is written
                except NonFiniteStep as e:
                    if t.on_nonfinite != "rollback" or run is None or rollbacks >= t.max_rollbacks:
                        raise _stopped(e, run, st.dist.rank) from None
                    rollbacks += 1
                    rollback(st, run, e)
                    bar.reset(total=t.steps)
                    bar.update(st.step)
                    sums = None
                    count, t_last = 0, time.perf_counter()
                    continue
                st.step += 1

                # ---- bookkeeping on the device (read back only when logging) ------------------
                with torch.no_grad():
                    values = torch.stack([v.detach().float().reshape(()) for v in scalars.values()])
                    sums = values if sums is None else sums + values
                count += 1
                bar.update(1)

                # ---- periodic jobs --------------------------------------------------------------
                done = st.step == t.steps
                if st.step % t.log_every == 0 or done:
                    now = time.perf_counter()
                    means = dict(zip(scalars, (sums / count).tolist()))
                    record = {"step": st.step, **means, "samples_per_s": count * batch / max(now - t_last, 1e-9)}
                    history.append(record)
                    if run is not None:
                        run.append_log(record)
                    bar.set_postfix({k: f"{v:.3f}" for k, v in list(means.items())[:2]}, refresh=False)
                    sums = None
                    count, t_last = 0, now
                if run is not None and (st.step % t.sample_every == 0 or done):
                    run.save_samples(st, n_pictures)
                if run is not None and (st.step % t.ckpt_every == 0 or done):
                    run.save_checkpoint(st)
                if t.eval_every and (st.step % t.eval_every == 0 or done):
                    if run is not None:
                        rec = run.evaluate(st)
                        shown = {k: v for k, v in rec.items() if isinstance(v, float)}
                        bar.write(f"step {st.step}: " + ", ".join(f"{k} {v:.4g}" for k, v in shown.items()),
                                  file=sys.stderr)
                    elif st.dist.enabled:  # no run directory on this rank: its share of the features
                        from .evaluation import evaluate_state
                        evaluate_state(st)
                if distributed.any_true(stop.signum is not None, st.dist):  # every rank stops together
                    stop.signum = stop.signum or signal.SIGTERM
                    name = signal.Signals(stop.signum).name
                    saved = ""
                    try:
                        raise_pending(st)  # every rank: the stop was agreed
                    except NonFiniteStep as e:
                        raise _stopped(e, run, st.dist.rank) from None
                    if run is not None:
                        saved = f"; checkpoint '{run.save_checkpoint(st)}' written, continue with --resume auto"
                    else:
                        saved = " (no run directory: nothing was saved)"
                    if stop.repeats:
                        saved += f"; {stop.repeats} more signal(s) waited for it"
                    raise TrainingInterrupted(f"{name} at step {st.step}{saved}", EXIT_CODES[stop.signum])
    finally:
        bar.close()
    if run is not None:
        try:
            run.write_report(st)
        except KeyboardInterrupt:
            raise TrainingInterrupted(f"SIGINT after the last step ({st.step}): its checkpoint and the export are "
                                      f"written; some report pictures may be missing (`ganforge report "
                                      f"{run.path}` redraws the loss plot and the GIF)", 130) from None
        final = "translations.png" if st.algorithm.translates else "real_vs_fake.png"
        say(f"finished {st.step} steps; pictures: {run.path}/{final}, losses.png, samples.gif, samples/")
