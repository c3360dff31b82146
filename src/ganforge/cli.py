"""Command line: a thin adapter from argparse subcommands to the library functions of the same name."""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from . import __version__, interrupts
from .config import DEFAULT_PRESET, PRESET_DIR, Config, all_keys, key_docs, preset_names, resolve
from .errors import GanforgeError, TrainingError, TrainingInterrupted
from .files import os_reason, writable_dir, writable_file
from .registries import ALGORITHMS, AUGMENTS, DATASETS, FEATURES, METRICS, NETWORKS, OBJECTIVES, PENALTIES

OUT_FORMATS = (".png", ".npz")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ganforge", description="Train, sample and evaluate GANs.")
    p.add_argument("--version", action="version", version=f"ganforge {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a preset or YAML config (or resume a run)")
    t.add_argument("config", nargs="?", default=None,
                   help=f"preset name or YAML file (default: {DEFAULT_PRESET}; `ganforge list presets`)")
    t.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config key, e.g. --set train.steps=500 (repeatable)")
    t.add_argument("--run-dir", default=None, help="run directory (default: runs/<preset name>)")
    t.add_argument("--resume", default=None, metavar="auto|PATH",
                   help="auto: continue from the newest valid checkpoint in the run directory (or start "
                        "fresh if none); PATH: continue from that checkpoint")
    t.add_argument("--device", default=None, help="cpu | cuda | cuda:N | mps (same as --set train.device=...)")
    t.add_argument("--dry-run", action="store_true",
                   help="make every check of a real start (config, run directory, data, networks, memory), print "
                        "the resolved config and exit; writes nothing")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")

    g = sub.add_parser("generate", help="sample from a run directory, checkpoint or exported generator")
    g.add_argument("source", help="run directory, checkpoint (.safetensors) or exported generator")
    g.add_argument("-n", type=int, required=True, help="number of samples")
    g.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    g.add_argument("--class", dest="cls", type=int, default=None, help="class to generate (conditional models)")
    g.add_argument("--code", type=int, default=None,
                   help="value of the categorical latent code to generate (InfoGAN models)")
    g.add_argument("--g", default=None, metavar="FILE.py:FACTORY",
                   help="your own generator's factory, for runs trained with model.g (weights never run code)")
    g.add_argument("--truncation", type=float, default=None, metavar="PSI",
                   help="truncation: scale the noise z by PSI in (0, 1] (codes and labels untouched; 1 = none)")
    g.add_argument("--jacobian-keep", type=float, default=None, metavar="KEEP",
                   help="Jacobian-norm rejection (Tanielian et al. 2020): of n / KEEP draws keep the n where G "
                        "stretches its noise least, dropping samples between modes (KEEP in (0, 1]; 1 = none)")
    g.add_argument("--out", required=True,
                   help="output: .png (plot or grid) or .npz (array x; y for conditional models; code and "
                        "code_cont for InfoGAN models)")

    e = sub.add_parser("evaluate", help="metrics of a trained generator, or of one set of images against another",
                       description="Evaluate a generator (SOURCE) against its dataset's reference split, or --fake "
                                   "against --real (each a dataset such as mnist:test, a directory of images, or an "
                                   "NPZ with array x, uint8 N,H,W[,C]). Every result records its protocol.")
    e.add_argument("source", nargs="?", default=None, help="run directory, checkpoint or exported generator")
    e.add_argument("--metrics", default=None,
                   help=f"comma-separated, from: {', '.join(METRICS.names())} (default: fid,kid,pr,dc for images, "
                        f"plus is for grayscale ones; modes for toy points)")
    e.add_argument("--n", type=int, default=None,
                   help="generated samples (default: 10000 images, 26000 stacked MNIST, 2500 toy points)")
    e.add_argument("--n-ref", type=int, default=None, help="reference samples (default: same as --n, capped at "
                                                             "the set's size)")
    e.add_argument("--ref", default="test", choices=["train", "test"],
                   help="reference split of the generator's dataset (default test; datasets without one use all)")
    e.add_argument("--features", default="auto", choices=["auto", *FEATURES.names()],
                   help="feature extractor for fid/kid/pr/dc (auto: inception for images, identity for points)")
    e.add_argument("--g", default=None, metavar="FILE.py:FACTORY",
                   help="your own generator's factory, for runs trained with model.g")
    e.add_argument("--real", default=None, help="two-set mode: the real set")
    e.add_argument("--fake", default=None, help="two-set mode: the generated set")
    e.add_argument("--seed", type=int, default=0, help="noise seed of the generated samples and KID subsets")
    e.add_argument("--out", default=None, help="also write the results (JSON) here")
    e.add_argument("--truncation", type=float, default=None, metavar="PSI",
                   help="sample with the noise scaled by PSI in (0, 1] (recorded in every protocol)")
    e.add_argument("--jacobian-keep", type=float, default=None, metavar="KEEP",
                   help="sample with Jacobian-norm rejection keeping this share of draws (see generate; recorded "
                        "in every protocol)")
    e.add_argument("--labels", default="balanced", choices=["balanced", "data"],
                   help="class mix of a conditional generator's samples: balanced (default) or data (the training "
                        "split's class shares; recorded in every protocol)")
    e.add_argument("--json", action="store_true", help="print the results as JSON instead of a summary")
    e.add_argument("--no-cache", action="store_true", help="neither read nor write cached reference features")
    e.add_argument("--no-progress", action="store_true", help="no progress bars")

    tr = sub.add_parser("translate", help="translate images with a paired-translation run (pix2pix, regression)")
    tr.add_argument("source", help="run directory, checkpoint or exported generator of a translation run")
    tr.add_argument("input", help="a folder of images, one image file, or an .npz with x (uint8 [N, H, W(, C)])")
    tr.add_argument("--out", required=True, help="a folder (one PNG per input, same relative names), an .npz "
                                                 "(x, names), or a .png for one input image")
    tr.add_argument("--resize", action="store_true",
                    help="resize inputs of another size (PIL bicubic) and convert their channels to the run's")
    tr.add_argument("--batch-size", type=int, default=256, help="images per forward pass (default 256)")
    tr.add_argument("--direction", default=None, choices=["a2b", "b2a"],
                    help="CycleGAN runs: a2b (G: A -> B) or b2a (F: B -> A); paired runs translate one way and take none")

    for name, what in (("encode", "the encoder's posterior means and log-variances (an .npz: mu, logvar, names)"),
                       ("reconstruct", "reconstructions G(mu(x)) (a folder, an .npz or one .png, as translate writes)")):
        en = sub.add_parser(name, help=f"{name} images with a vae / vaegan run: {what}")
        en.add_argument("source", help="run directory, checkpoint or exported generator of a vae or vaegan run")
        en.add_argument("input", help="a folder of images, one image file, or an .npz with x (uint8 [N, H, W(, C)])")
        en.add_argument("--out", required=True, help="output: " + what)
        en.add_argument("--resize", action="store_true",
                        help="resize inputs of another size (PIL bicubic) and convert their channels to the run's")
        en.add_argument("--batch-size", type=int, default=256, help="images per forward pass (default 256)")

    it = sub.add_parser("interpolate", help="a grid of rows walking between two z by spherical interpolation")
    it.add_argument("source", help="run directory, checkpoint or exported generator of a noise-to-image run")
    it.add_argument("--steps", type=int, default=8, help="images per row, both ends included (default 8)")
    it.add_argument("--rows", type=int, default=8, help="rows, each between two random z (default 8)")
    it.add_argument("--seed", type=int, default=0, help="noise seed of the rows' ends (default 0)")
    it.add_argument("--between", nargs=2, default=None, metavar=("A", "B"),
                    help="encoder runs: rows between the encoded images of A and of B (each an image, a folder or "
                         "an .npz, as many images in each)")
    it.add_argument("--g", default=None, metavar="FILE.py:FACTORY", help="your own generator's factory (model.g runs)")
    it.add_argument("--out", required=True, help="output: .png (the grid) or .npz (x [rows * steps, ...], row-major)")

    ex = sub.add_parser("export", help="export a trained generator to run elsewhere (ONNX)")
    ex.add_argument("source", help="run directory, checkpoint or exported generator")
    ex.add_argument("--format", default="onnx", choices=["onnx"], help="onnx (the only format so far)")
    ex.add_argument("--g", default=None, metavar="FILE.py:FACTORY", help="your own generator's factory (model.g runs)")
    ex.add_argument("--out", required=True, help="output file, .onnx")

    av = sub.add_parser("average", help="a generator export whose weights are the mean of G_ema over a run's newest "
                                        "checkpoints (checkpoint averaging; train.average_ckpts does it in training)")
    av.add_argument("run", help="run directory (only read)")
    av.add_argument("--last", type=int, default=3, help="how many of the newest checkpoints to average (default 3)")
    av.add_argument("--out", required=True, help="output file, .safetensors: generate, evaluate and export read it")

    r = sub.add_parser("report", help="(re)draw a run's loss plot and the GIF of its sample pictures")
    r.add_argument("run", help="run directory")

    ls = sub.add_parser("list", help="list presets, algorithms, networks, objectives, penalties, datasets, metrics, features, "
                                         "augmentations, keys")
    ls.add_argument("what", nargs="?", default="all",
                    choices=["all", "presets", "algorithms", "networks", "objectives", "penalties", "datasets",
                             "metrics", "features", "augmentations", "keys"])
    return p


def cmd_train(a: argparse.Namespace) -> int:
    from .train.run import train

    overrides = a.overrides + (["train.progress=false"] if a.no_progress else []) + \
        ([f"train.device={a.device}"] if a.device else [])
    # without a preset, a resumed run keeps the checkpoint's own config; a new run uses the default preset
    config = a.config if (a.config is not None or a.resume is not None) else DEFAULT_PRESET
    cfg = resolve(config or DEFAULT_PRESET, overrides)
    run_dir = Path(a.run_dir) if a.run_dir else Path("runs") / cfg.name
    if a.dry_run:  # every check of a real start (data, networks, memory, run directory), nothing written
        run = train(config, overrides, run_dir=run_dir, resume=a.resume, dry_run=True)
        print(f"# run directory: {run_dir}")
        print(run.config.to_yaml(), end="")
        return 0
    train(config, overrides, run_dir=run_dir, resume=a.resume)
    print(f"run directory: {run_dir}\n  samples:   {run_dir / 'samples'}\n"
          f"  log:       {run_dir / 'log.jsonl'}\n  generator: {run_dir / 'generator.safetensors'}")
    return 0


def cmd_generate(a: argparse.Namespace) -> int:
    from .data.source import load_source
    from .report import picture
    from .sample import check_jacobian_keep, load_generator

    out = Path(a.out)
    if out.suffix not in OUT_FORMATS:
        raise GanforgeError(f"--out '{out}' must end in .png or .npz")
    writable_file(out, "--out")
    if a.n < 1:
        raise GanforgeError(f"-n must be >= 1, got {a.n}")
    if not 0 <= a.seed < 2**63:
        raise GanforgeError(f"--seed must be in 0..2^63-1, got {a.seed}")
    check_jacobian_keep(a.jacobian_keep)
    gen = load_generator(a.source, G=a.g)
    gen.check_n(a.n)  # -n that cannot fit in memory, before anything is drawn
    y = gen.labels(a.n, a.cls)
    if a.jacobian_keep is not None:
        draw, y = gen.draw_smooth(a.n, a.jacobian_keep, seed=a.seed, y=y, code=a.code, truncation=a.truncation)
    else:
        draw = gen.draw(a.n, seed=a.seed, code=a.code, truncation=a.truncation)  # a bad --code fails here, first
    x = gen.decode(gen.sample_z(draw.z, y=y))
    if out.suffix == ".npz":
        arrays: dict[str, Any] = {"x": x} | ({"y": y.numpy()} if y is not None else {})
        if draw.code is not None:
            arrays["code"] = draw.code.numpy()
        if draw.code_cont is not None:
            arrays["code_cont"] = draw.code_cont.numpy()
        with open(out, "wb") as f:
            np.savez(f, **arrays)
    else:
        real = None
        if gen.data_info["kind"] == "points" and gen.data_info["name"] in DATASETS:
            real = load_source(gen.data_info["name"]).reference(min(a.n, 2000))
        nrow = max(a.n // gen.num_classes, 1) if (gen.num_classes > 0 and a.cls is None) else None
        trunc = f", truncation {a.truncation:g}" if a.truncation not in (None, 1.0) else ""
        trunc += f", Jacobian keep {a.jacobian_keep:g}" if a.jacobian_keep not in (None, 1.0) else ""
        picture(x, gen.data_info, out, real=real, title=f"{a.n} samples, seed {a.seed}{trunc}", nrow=nrow)
    print(f"wrote {a.n} samples to {out}")
    return 0


def cmd_translate(a: argparse.Namespace) -> int:
    from .imagefiles import check_output, read_images, write_images
    from .sample import load_generator

    if a.batch_size < 1:
        raise GanforgeError(f"--batch-size must be >= 1, got {a.batch_size}")
    gen = load_generator(a.source)
    if not gen.translates:
        raise GanforgeError(f"'{a.source}' draws images from noise (model.algorithm="
                            f"{gen.config.get('model', {}).get('algorithm', 'gan')}), it does not translate: use "
                            f"`ganforge generate {a.source} -n N --out OUT`")
    if a.direction is not None and len(gen.directions) == 1:
        raise GanforgeError(f"--direction {a.direction}: '{a.source}' is a paired translation run, which translates one "
                            f"way (input -> target); drop --direction")
    if a.direction is None and len(gen.directions) > 1:
        raise GanforgeError(f"'{a.source}' is a CycleGAN run, which translates both ways: give --direction a2b "
                            f"({gen.data_info.get('domain_a', {}).get('name', 'A')} -> "
                            f"{gen.data_info.get('domain_b', {}).get('name', 'B')}) or --direction b2a")
    direction = a.direction or "a2b"
    c, h, w = gen.input_shape(direction)
    x, names, _ = read_images(a.input, channels=c if a.resize else None, size=(h, w) if a.resize else None)
    out = check_output(a.out, names)
    y = gen.translate(x, batch_size=a.batch_size, direction=direction)  # refuses other sizes or channel counts
    write_images(out, y, names)
    print(f"translated {len(y)} image(s) into {out}")
    return 0


def _encoder_inputs(a: argparse.Namespace) -> tuple[Any, Any, list[str]]:
    """(generator with an encoder, uint8 images, names) for encode and reconstruct."""
    from .imagefiles import read_images
    from .sample import load_generator

    if a.batch_size < 1:
        raise GanforgeError(f"--batch-size must be >= 1, got {a.batch_size}")
    gen = load_generator(a.source)
    gen._encoder()  # a run without an encoder says which algorithms have one, before the inputs are read
    c, h, w = gen.data_info["shape"]
    x, names, _ = read_images(a.input, channels=c if a.resize else None, size=(h, w) if a.resize else None)
    return gen, x, names


def cmd_encode(a: argparse.Namespace) -> int:
    from .checkpoint import atomic_write

    out = Path(a.out)
    if out.suffix.lower() != ".npz":
        raise GanforgeError(f"--out '{out}' must end in .npz (arrays mu, logvar and names)")
    writable_file(out, "--out")
    gen, x, names = _encoder_inputs(a)
    mu, logvar = gen.encode(x, batch_size=a.batch_size)  # refuses other sizes or channel counts
    buf = io.BytesIO()
    np.savez(buf, mu=mu, logvar=logvar, names=np.array(names))
    atomic_write(out, buf.getvalue())
    print(f"encoded {len(mu)} image(s) into {out} (mu, logvar: [{len(mu)}, {mu.shape[1]}])")
    return 0


def cmd_reconstruct(a: argparse.Namespace) -> int:
    from .imagefiles import check_output, write_images

    if Path(a.out).suffix.lower() not in ("", ".npz", ".png", ".jpg", ".jpeg"):
        raise GanforgeError(f"--out '{a.out}' must be a folder, an .npz or (for one image) a .png")
    gen, x, names = _encoder_inputs(a)
    out = check_output(a.out, names)
    y = gen.reconstruct(x, batch_size=a.batch_size)
    write_images(out, y, names)
    print(f"reconstructed {len(y)} image(s) into {out}")
    return 0


def cmd_interpolate(a: argparse.Namespace) -> int:
    from .imagefiles import read_images
    from .report import image_grid, save_image
    from .sample import load_generator

    out = Path(a.out)
    if out.suffix not in OUT_FORMATS:
        raise GanforgeError(f"--out '{out}' must end in .png or .npz")
    writable_file(out, "--out")
    for key, value, low in (("--steps", a.steps, 2), ("--rows", a.rows, 1)):
        if value < low:
            raise GanforgeError(f"{key} must be >= {low}, got {value}")
    if not 0 <= a.seed < 2**63:
        raise GanforgeError(f"--seed must be in 0..2^63-1, got {a.seed}")
    gen = load_generator(a.source, G=a.g)
    if gen.translates:
        raise GanforgeError(f"'{a.source}' is a translation run (it takes images, not noise): interpolate works on "
                            f"noise-to-image generators")
    gen.check_n(a.rows * a.steps)
    between = None
    if a.between is not None:
        gen._encoder()
        c, h, w = gen.data_info["shape"]
        between = tuple(read_images(spec, channels=c, size=(h, w))[0] for spec in a.between)
    x = gen.decode(gen.interpolate(a.rows, a.steps, a.seed, between=between))
    rows = len(x) // a.steps
    if out.suffix == ".npz":
        with open(out, "wb") as f:
            np.savez(f, x=x)
    elif gen.data_info["kind"] != "images":
        raise GanforgeError(f"--out '{out}': a grid picture needs an image generator; use an .npz for points")
    else:
        save_image(image_grid(x, a.steps), out)
    print(f"wrote {rows} row(s) of {a.steps} interpolated samples to {out}")
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    from .export import export_onnx

    path = export_onnx(a.source, a.out, G=a.g, fmt=a.format)
    print(f"wrote {path} (ONNX; `python -c \"import onnx; print(onnx.load('{path}').metadata_props)\"` shows "
          f"its inputs and config)")
    return 0


def finite_or_null(obj: Any) -> Any:
    """Replace inf/nan floats by None so the output is valid JSON (e.g. reverse KL with no HQ sample)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [finite_or_null(v) for v in obj]
    return obj


def summary(results: list[dict[str, Any]]) -> str:
    """Readable lines: each metric's values, then its protocol."""
    lines, protocols = [], []
    for r in results:
        values = ", ".join(f"{k}={_fmt(v)}" for k, v in r.items() if k not in ("metric", "protocol", "per_mode"))
        lines.append(f"{r['metric']:<6} {values}")
        text = "\n".join(f"    {k}: {_fmt(v)}" for k, v in r["protocol"].items())
        for entry in protocols:
            if entry[1] == text:
                entry[0].append(r["metric"])
                break
        else:
            protocols.append(([r["metric"]], text))
    for names, text in protocols:
        lines.append(f"protocol of {', '.join(names)}:\n{text}")
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def cmd_evaluate(a: argparse.Namespace) -> int:
    from .checkpoint import atomic_write
    from .evaluate import evaluate

    names = [m.strip() for m in a.metrics.split(",") if m.strip()] if a.metrics is not None else None
    for name in names or []:
        METRICS.get(name)  # unknown names fail before anything is loaded
    if a.out:
        writable_file(a.out, "--out")
    results = evaluate(a.source, names, n=a.n, seed=a.seed, ref=a.ref, features=a.features, real=a.real,
                       fake=a.fake, n_ref=a.n_ref, progress=not a.no_progress, use_cache=not a.no_cache, G=a.g,
                       truncation=a.truncation, jacobian_keep=a.jacobian_keep, labels=a.labels)
    text = json.dumps(finite_or_null(results), indent=2, allow_nan=False)
    print(text if a.json else summary(results))
    if a.out:
        atomic_write(a.out, (text + "\n").encode())
    return 0


def cmd_list(a: argparse.Namespace) -> int:
    sections = {
        "presets": [(n, (PRESET_DIR / f"{n}.yaml").read_text().splitlines()[0].lstrip("# ")) for n in preset_names()],
        "algorithms": [(n, ALGORITHMS.help(n)) for n in ALGORITHMS],
        "networks": [(n, NETWORKS.help(n)) for n in NETWORKS],
        "objectives": [(n, OBJECTIVES.help(n)) for n in OBJECTIVES],
        "penalties": [(n, PENALTIES.help(n)) for n in PENALTIES],
        "datasets": [(n, DATASETS.help(n)) for n in DATASETS],
        "metrics": [(n, METRICS.help(n)) for n in METRICS],
        "features": [(n, FEATURES.help(n)) for n in FEATURES],
        "augmentations": [(n, AUGMENTS.help(n)) for n in AUGMENTS],
    }
    if a.what == "keys":
        docs, defaults = key_docs(), Config().to_dict()
        for key in all_keys():
            value: Any = defaults
            for part in key.split("."):
                value = value[part]
            print(f"{key:<22} {value!s:<14} {docs.get(key, '')}")
        return 0
    for name, rows in sections.items():
        if a.what in ("all", name):
            print(f"{name}:")
            for n, h in rows:
                print(f"  {n:<20} {h}")
    return 0


def cmd_average(a: argparse.Namespace) -> int:
    from .train.rundir import average_run

    print(f"wrote {average_run(a.run, a.out, a.last)}")
    return 0


def cmd_report(a: argparse.Namespace) -> int:
    from .train.rundir import RunDir

    run = RunDir(a.run)
    if not run.path.is_dir():
        raise GanforgeError(f"run directory '{a.run}' {'is a file' if run.path.exists() else 'does not exist'}: "
                            f"pass the directory a training run wrote")
    if not (run.log_path.is_file() or run.samples_dir.is_dir()):
        raise GanforgeError(f"'{a.run}' is not a ganforge run directory (no log.jsonl or samples/)")
    writable_dir(run.path, "run directory")  # the report's pictures are written into it
    for path in run.write_report():
        print(f"wrote {path}")
    return 0


COMMANDS = {"train": cmd_train, "generate": cmd_generate, "evaluate": cmd_evaluate, "translate": cmd_translate,
            "encode": cmd_encode, "reconstruct": cmd_reconstruct, "interpolate": cmd_interpolate, "export": cmd_export,
            "average": cmd_average, "report": cmd_report, "list": cmd_list}


@contextlib.contextmanager
def _startup_signals() -> Iterator[None]:
    """SIGINT/SIGTERM outside the training loop (start-up, loading, evaluation) end the command: SIGINT as
    Ctrl-C always does (KeyboardInterrupt), SIGTERM likewise (exit 143); the exception unwinds through the
    atomic writers, which remove their temp files. Each such signal is also noted in interrupts.py, so
    that one a library swallows still stops a run before its first step. Inside the loop,
    train/loop.py's handler takes over and saves a checkpoint first."""
    interrupts.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigint(signum: int, frame: Any) -> None:
        interrupts.note(signum)
        raise KeyboardInterrupt

    def on_sigterm(signum: int, frame: Any) -> None:
        interrupts.note(signum)
        raise TrainingInterrupted("SIGTERM outside the training loop: no checkpoint was written at this stop; "
                                  "every file already written is complete", 143)

    handlers = {signal.SIGTERM: on_sigterm}
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # a background job's ignored Ctrl-C stays ignored
        handlers[signal.SIGINT] = on_sigint
    previous = {s: signal.signal(s, h) for s, h in handlers.items()}
    interrupts.in_command = True
    try:
        yield
    finally:
        interrupts.in_command = False
        for s, h in previous.items():  # a process that exits now ignores later signals (interrupts.py)
            signal.signal(s, signal.SIG_IGN if interrupts.process_exits else h)
        interrupts.clear()  # a note no loop took must not stop a later run in this process


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `ganforge` console script; returns the exit status. With argv None the command
    line is this process's own, and the process exits after it (see interrupts.process_exits)."""
    interrupts.process_exits = argv is None
    args = _parser().parse_args(argv)
    try:
        with _startup_signals():
            return COMMANDS[args.command](args)
    except TrainingInterrupted as e:
        print(f"ganforge: interrupted: {e}", file=sys.stderr)
        return e.exit_code
    except TrainingError as e:
        print(f"ganforge: error: {e}", file=sys.stderr)
        return 1
    except GanforgeError as e:
        print(f"ganforge: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a file-system problem that arose after the checks (a race, a disk that filled up)
        print(f"ganforge: error: {e.filename or 'a file'}: {os_reason(e)} (files written before are complete)",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ganforge: interrupted outside the training loop: no checkpoint was written at this stop; every file "
              "already written is complete", file=sys.stderr)
        return 130
