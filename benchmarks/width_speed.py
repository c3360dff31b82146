#!/usr/bin/env python
"""Why wider DCGANs are slower on this CPU: ms per training step against the multiply-accumulates it does.

    python benchmarks/width_speed.py [--preset mnist-dcgan] [--widths 32,48,64] [--steps 20] [--rounds 3]
    python benchmarks/width_speed.py --preset mnist-cgan --widths 32,64 --precisions fp32,bf16 --layouts channels-last
    python benchmarks/width_speed.py --preset mnist-cgan --widths 64,96 --precisions bf16 --layouts channels-last --extra-convs 0,1

For each model.width, in both memory layouts (train.channels_last true / false), the preset's training step
(ganforge's own, data pipeline included, no logging) is timed over --steps steps; the configurations take turns
for --rounds rounds so that a shared machine's load falls on all of them alike, and the fastest round counts.
The multiply-accumulates (MACs) of one step are counted from the conv, transposed-conv and linear layers' shapes
(forward x 3 for forward + both backward products, G's forward counted for D's and G's updates as the step
runs it). If the time per GMAC stays flat as width grows, the slowdown is the arithmetic itself, not a layout
or kernel-choice problem. --precisions adds train.precision=bf16 rows (autocast: on a CPU with AMX / AVX-512
BF16 its kernels do the wider nets' arithmetic much faster per GMAC). --extra-convs adds rows with that many
3x3 layers per resolution in G and D (model.g_extra_convs = model.d_extra_convs: depth instead of width);
a value G/D (such as 0/1) sets the two apart. --g-widths adds rows with G alone that wide (model.g_width;
0 = model.width):

    python benchmarks/width_speed.py --preset mnist-cgan-deepd-hq --widths 64 --precisions bf16 --layouts channels-last --extra-convs 0/1 --g-widths 0,96

--label-maps adds rows with model.d_label_maps set (built: the conditional D's label embedding broadcast to
constant maps and concatenated to the image; implicit: the same first conv without building them), for a
conditional preset (GMAC/step counts the built maps' arithmetic on both rows: the same function):

    python benchmarks/width_speed.py --preset mnist-cgan-w64-demo --widths 64 --precisions fp32,bf16 --layouts channels-last --label-maps built,implicit

--mbstd adds rows with the minibatch standard deviation channel in D (model.d_mbstd; its arithmetic is not counted
in GMAC/step, which stays the layers'):

    python benchmarks/width_speed.py --preset mnist-cgan-wideg-hq --widths 64 --precisions bf16 --layouts channels-last --extra-convs 0/1 --g-widths 96 --mbstd 0,4

--g-upsample adds rows with G's upsampling set (model.g_upsample: transpose, nearest):

    python benchmarks/width_speed.py --preset mnist-cgan-wideg-hq --widths 64 --precisions bf16 --layouts channels-last --extra-convs 0/1 --g-widths 96 --g-upsample transpose,nearest
"""
from __future__ import annotations

import argparse
import time

import torch
from torch import nn


def macs_per_sample(net: nn.Module, *inputs: torch.Tensor) -> int:
    """Multiply-accumulates of one forward pass of one sample, from the layers' output shapes."""
    total = [0]

    def hook(m: nn.Module, args: tuple, out: torch.Tensor) -> None:
        if isinstance(m, nn.Linear):
            total[0] += out[0].numel() * m.in_features
        elif isinstance(m, nn.Conv2d):
            total[0] += out[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.ConvTranspose2d):  # each input element feeds k*k*out_channels outputs
            x = args[0]
            total[0] += x[0].numel() * m.out_channels * m.kernel_size[0] * m.kernel_size[1]

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d,
                                                                                      nn.ConvTranspose2d))]
    was = net.training
    net.eval()
    with torch.no_grad():
        net(*[i[:1] for i in inputs])
    net.train(was)
    for h in handles:
        h.remove()
    return total[0]


def main() -> None:
    from ganforge.config import resolve
    from ganforge.train.loop import train_step
    from ganforge.train.state import build_state

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="mnist-dcgan")
    ap.add_argument("--widths", default="32,48,64")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--precisions", default="fp32", help="comma-separated train.precision values (fp32, bf16)")
    ap.add_argument("--layouts", default="channels-last,contiguous", help="comma-separated: channels-last, contiguous")
    ap.add_argument("--extra-convs", default="0", help="comma-separated model.g_extra_convs = d_extra_convs values, "
                                                       "or G/D pairs such as 0/1 (extra depth in D alone)")
    ap.add_argument("--g-widths", default="0", help="comma-separated model.g_width values (0: model.width)")
    ap.add_argument("--mbstd", default="0", help="comma-separated model.d_mbstd values (0: off; 4: ProGAN's group)")
    ap.add_argument("--g-upsample", default="", help="comma-separated model.g_upsample values (transpose, nearest); "
                                                     "'' = the preset's")
    ap.add_argument("--label-maps", default="", help="comma-separated model.d_label_maps values (built, implicit); "
                                                     "'' = the preset's")
    a = ap.parse_args()
    layouts = [{"channels-last": True, "contiguous": False}[x] for x in a.layouts.split(",")]
    configs = [(int(w), cl, p, e, int(gw), lm, int(mb), up) for up in a.g_upsample.split(",") for mb in a.mbstd.split(",")
               for lm in a.label_maps.split(",")
               for gw in a.g_widths.split(",")
               for e in a.extra_convs.split(",") for w in a.widths.split(",") for cl in layouts
               for p in a.precisions.split(",")]
    states, macs = {}, {}
    for c in configs:
        w, cl, prec, e, gw, lm, mb, up = c
        st = build_state(resolve(a.preset, ["train.progress=false", f"model.width={w}",
                                            f"train.channels_last={str(cl).lower()}", f"train.precision={prec}",
                                            f"model.g_extra_convs={e.split('/')[0]}",
                                            f"model.d_extra_convs={e.split('/')[-1]}", f"model.g_width={gw}", f"model.d_mbstd={mb}",
                                            *([f"model.d_label_maps={lm}"] if lm else []),
                                            *([f"model.g_upsample={up}"] if up else [])]))
        batch = st.cfg.data.batch_size
        z = st.prior.draw(2, st.device).z
        y = torch.zeros(2, dtype=torch.long) if st.num_classes else None
        g = macs_per_sample(st.G, z, y) if y is not None else macs_per_sample(st.G, z)
        x = st.G(z, y) if y is not None else st.G(z)
        implicit = [m for m in st.D.modules() if getattr(m, "implicit_labels", False)]
        for m in implicit:  # counted as built maps: the same function's arithmetic on either label-maps row
            m.implicit_labels = False
        d = macs_per_sample(st.D, x, y) if y is not None else macs_per_sample(st.D, x)
        for m in implicit:
            m.implicit_labels = True
        macs[c] = 3 * batch * (g + 2 * d + d)  # G once; D on real, fake and in G's update
        for _ in range(3):
            train_step(st)
            st.step += 1
        states[c] = st
    best = {c: float("inf") for c in configs}
    for _ in range(a.rounds):
        for c in configs:
            st = states[c]
            t = time.perf_counter()
            for _ in range(a.steps):
                train_step(st)
                st.step += 1
            best[c] = min(best[c], (time.perf_counter() - t) / a.steps * 1000)
    base = best[configs[0]]
    print(f"{a.preset}, batch {states[configs[0]].cfg.data.batch_size}, {torch.get_num_threads()} threads, "
          f"best of {a.rounds} rounds of {a.steps} steps")
    w0, cl0, p0, e0, gw0, lm0, mb0, up0 = configs[0]
    first = (f"{w0} {'channels-last' if cl0 else 'contiguous'} {p0} +{e0} G {gw0 or w0}" + (f" {lm0}" if lm0 else "")
             + (f" mbstd {mb0}" if a.mbstd != "0" else "") + (f" {up0}" if up0 else ""))
    maps = " label maps |" if a.label_maps else ""
    mbs = " mbstd |" if a.mbstd != "0" else ""
    ups = " G upsampling |" if a.g_upsample else ""
    print(f"| width | G width | layout | precision | extra convs |{maps}{mbs}{ups} ms/step | x width {first} | GMAC/step | "
          f"ms per GMAC |")
    print("|---|---|---|---|---|" + ("---|" if maps else "") + ("---|" if mbs else "") + ("---|" if ups else "") + "---|---|---|---|")
    for c in configs:
        w, cl, prec, e, gw, lm, mb, up = c
        gmac = macs[c] / 1e9
        print(f"| {w} | {gw or w} | {'channels-last' if cl else 'contiguous'} | {prec} | {e} |"
              f"{f' {lm} |' if maps else ''}{f' {mb} |' if mbs else ''}{f' {up} |' if ups else ''} {best[c]:.1f} | {best[c] / base:.2f}x | {gmac:.2f} | {best[c] / gmac:.1f} |")


if __name__ == "__main__":
    main()
