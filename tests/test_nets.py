"""The dcgan family's resolutions and layers, and the adapters for users' own modules. The contract of
every registered network family (every data kind, conditional or not) is in test_registries.py."""
import warnings

import pytest
import torch
from torch import nn

from ganforge.config import Config
from ganforge.errors import ConfigError
from ganforge.nets.adapt import adapt_discriminator, adapt_generator
from ganforge.registries import NETWORKS

@pytest.mark.parametrize("res", [15, 20, 30, 512, 8])
def test_dcgan_rejects_unbuildable_resolution(res):
    with pytest.raises(ConfigError, match=f"cannot build resolution {res}"):
        NETWORKS.get("dcgan")(Config().model, (1, res, res), 0, "tanh")


def test_dcgan_init_and_layers():
    m = Config().model
    m.g_batchnorm = m.d_batchnorm = True
    G, D = NETWORKS.get("dcgan")(m, (1, 28, 28), 0, "tanh")
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert [c.stride for c in convs] == [(2, 2), (2, 2)]
    w = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, nn.ConvTranspose2d)])
    assert abs(w.std().item() - 0.02) < 0.002 and abs(w.mean().item()) < 0.002
    bns = [m for m in D.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == len(convs) - 1  # no BN on D's first layer


@pytest.mark.parametrize("res,bn", [(28, True), (32, False)])
def test_dcgan_extra_convs_add_depth_at_the_same_widths(res, bn):
    """model.g_extra_convs / d_extra_convs add that many 3x3 stride-1 convs per inner resolution (G: after the
    projection and each upsampling but the last; D: after each downsampling), keep the widths and the
    contract, and 0 builds exactly DCGAN's layers (the recorded presets' weights keep their names)."""
    m = Config().model
    m.width, m.z_dim, m.g_batchnorm, m.d_batchnorm = 8, 5, bn, bn
    G0, D0 = NETWORKS.get("dcgan")(m, (1, res, res), 3, "tanh")
    m.g_extra_convs, m.d_extra_convs = 2, 1
    G, D = NETWORKS.get("dcgan")(m, (1, res, res), 3, "tanh")
    k = 2 if res == 28 else 3  # doublings: 7 -> 28, 4 -> 32
    g3 = [c for c in G.modules() if isinstance(c, nn.Conv2d)]
    d3 = [c for c in D.modules() if isinstance(c, nn.Conv2d) and c.kernel_size == (3, 3)]
    assert len(g3) == 2 * k and all(c.kernel_size == (3, 3) and c.stride == (1, 1) for c in g3)
    assert len(d3) == k and all(c.in_channels == c.out_channels and c.stride == (1, 1) for c in d3)
    assert [c.out_channels for c in G.modules() if isinstance(c, nn.ConvTranspose2d)] == \
        [c.out_channels for c in G0.modules() if isinstance(c, nn.ConvTranspose2d)]
    n_bn = sum(isinstance(c, nn.BatchNorm2d) for c in G.modules()) - sum(isinstance(c, nn.BatchNorm2d) for c in G0.modules())
    assert n_bn == (2 * k if bn else 0)
    assert D.feature_dim == D0.feature_dim
    z, y = torch.randn(4, 5), torch.arange(4) % 3
    x = G(z, y)
    assert x.shape == (4, 1, res, res)
    D(x, y).sum().backward()
    assert all(p.grad is not None for p in G.parameters())
    m.g_extra_convs = m.d_extra_convs = 0
    G1, D1 = NETWORKS.get("dcgan")(m, (1, res, res), 3, "tanh")
    assert list(G1.state_dict()) == list(G0.state_dict()) and list(D1.state_dict()) == list(D0.state_dict())


@pytest.mark.parametrize("key,value", [("model.g_extra_convs", -1), ("model.d_extra_convs", 9)])
def test_dcgan_extra_convs_out_of_range_is_refused(key, value):
    from ganforge.config import resolve
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        resolve("mnist-cgan", [f"{key}={value}"])


def test_dcgan_g_width_widens_the_generator_alone():
    """model.g_width sets G's base channel count (its maps widen inwards from it) and leaves D as model.width
    builds it; 0 (the default) builds exactly model.width's G."""
    m = Config().model
    m.width, m.z_dim = 8, 5
    G0, D0 = NETWORKS.get("dcgan")(m, (1, 28, 28), 3, "tanh")
    m.g_width = 12
    G, D = NETWORKS.get("dcgan")(m, (1, 28, 28), 3, "tanh")
    tconv = [c.in_channels for c in G.modules() if isinstance(c, nn.ConvTranspose2d)]
    assert tconv == [24, 12] and [c.in_channels for c in G0.modules() if isinstance(c, nn.ConvTranspose2d)] == [16, 8]
    assert [p.shape for p in D.parameters()] == [p.shape for p in D0.parameters()]
    x = G(torch.randn(4, 5), torch.arange(4) % 3)
    assert x.shape == (4, 1, 28, 28)
    m.g_width = 0
    G1, _ = NETWORKS.get("dcgan")(m, (1, 28, 28), 3, "tanh")
    assert [p.shape for p in G1.parameters()] == [p.shape for p in G0.parameters()]


@pytest.mark.parametrize("preset,value,more,says", [
    ("mnist-cgan", -1, [], "0 for model.width"),
    ("ring8-gan", 16, [], "model.arch=mlp has no such width"),
    ("mnist-cgan", 96, ["model.g=g.py:make_g", "model.d=d.py:make_d"], "your own G (g.py:make_g) has its own")])
def test_dcgan_g_width_out_of_range_or_on_another_arch_is_refused(preset, value, more, says):
    from ganforge.config import resolve
    with pytest.raises(ConfigError, match=r"model\.g_width") as e:
        resolve(preset, [f"model.g_width={value}", *more])
    assert says in str(e.value)


@pytest.mark.parametrize("shape,extra", [((1, 28, 28), 0), ((3, 32, 32), 1)])
def test_dcgan_g_upsample_nearest_replaces_each_transposed_conv_by_resize_and_conv(shape, extra):
    """model.g_upsample=nearest: each of G's k doublings is nearest-neighbour upsampling then a 3x3 stride-1 conv
    with the transposed conv's channels; D, the projection and the extra convs are unchanged; 'transpose' (the
    default) builds DCGAN's G with the same weight names."""
    m = Config().model
    m.width, m.z_dim, m.g_extra_convs = 8, 5, extra
    G0, D0 = NETWORKS.get("dcgan")(m, shape, 3, "tanh")
    m.g_upsample = "nearest"
    G, D = NETWORKS.get("dcgan")(m, shape, 3, "tanh")
    k = 2 if shape[1] == 28 else 3
    assert not any(isinstance(c, nn.ConvTranspose2d) for c in G.modules())
    ups = [i for i, c in enumerate(G.blocks) if isinstance(c, nn.Upsample)]
    assert len(ups) == k and all(G.blocks[i].scale_factor == 2 and G.blocks[i].mode == "nearest" for i in ups)
    after = [G.blocks[i + 1] for i in ups]
    tconv = [c for c in G0.modules() if isinstance(c, nn.ConvTranspose2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride) for c in after] == \
        [(c.in_channels, c.out_channels, (3, 3), (1, 1)) for c in tconv]
    assert [(c.bias is None) for c in after] == [(c.bias is None) for c in tconv]
    assert list(D.state_dict()) == list(D0.state_dict())
    z, y = torch.randn(4, 5), torch.arange(4) % 3
    h = G.project(torch.cat([z, G.label(y, 4)], 1)).view(-1, G.c0, G.s0, G.s0)
    up = G.blocks[:ups[0] + 1](h)  # the first upsampling's output: every 2x2 block one value
    torch.testing.assert_close(up, up[:, :, ::2, ::2].repeat_interleave(2, 2).repeat_interleave(2, 3))
    x = G(z, y)
    assert x.shape == (4, *shape) and x.abs().max() <= 1
    D(x, y).sum().backward()
    assert all(p.grad is not None for p in G.parameters())
    m.g_upsample = "transpose"
    G1, _ = NETWORKS.get("dcgan")(m, shape, 3, "tanh")
    assert list(G1.state_dict()) == list(G0.state_dict())


@pytest.mark.parametrize("preset,more,says", [
    ("mnist-cgan", ["model.g_upsample=bilinear"], "transpose | nearest"),
    ("ring8-gan", ["model.g_upsample=nearest"], "model.arch=mlp has no such choice"),
    ("mnist-cgan", ["model.g_upsample=nearest", "model.g=g.py:make_g", "model.d=d.py:make_d"],
     "your own G (g.py:make_g) has its own")])
def test_dcgan_g_upsample_bad_values_are_refused_by_name(preset, more, says):
    from ganforge.config import resolve
    with pytest.raises(ConfigError, match=r"model\.g_upsample") as e:
        resolve(preset, more)
    assert says in str(e.value)


@pytest.mark.parametrize("shape,extra,pack", [((1, 28, 28), 0, 1), ((3, 32, 32), 1, 1), ((1, 28, 28), 1, 2)])
def test_dcgan_implicit_label_maps_compute_the_built_maps_function(shape, extra, pack):
    """model.d_label_maps=implicit: the same parameters (a checkpoint of either loads into the other) and the same
    logits and gradients, for every parameter and the input, as the concatenated constant maps (float64)."""
    m = Config().model
    m.width, m.d_extra_convs, m.d_batchnorm, m.d_pack = 8, extra, True, pack
    builder = NETWORKS.get("dcgan")
    packed = (shape[0] * pack, *shape[1:])
    torch.manual_seed(0)
    _, built = builder(m, packed, 10, "tanh")
    m.d_label_maps = "implicit"
    _, implicit = builder(m, packed, 10, "tanh")
    assert implicit.implicit_labels and not built.implicit_labels
    implicit.load_state_dict(built.state_dict())
    built, implicit = built.double(), implicit.double()
    for p in built.parameters():  # away from dcgan_init's zero biases and unit BN scales
        p.data.normal_(0, 0.1)
    implicit.load_state_dict(built.state_dict())
    x = torch.randn(6, *packed, dtype=torch.double, requires_grad=True)
    y = torch.tensor([0, 3, 9, 3, 1, 7])
    outs = [net(x, y) for net in (built, implicit)]
    assert outs[0].shape == (6,) and float(outs[0].detach().std()) > 1e-3  # the logits differ from sample to sample
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-12, atol=1e-12)
    grads = [torch.autograd.grad(o.square().sum(), [x, *net.parameters()]) for o, net in zip(outs, (built, implicit))]
    for a, b in zip(*grads):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-12)
    assert float(grads[0][1 + list(dict(built.named_parameters())).index("label.embed.weight")].abs().sum()) > 0
    wrong = torch.randn(2, packed[0] + 1, *shape[1:], dtype=torch.double)
    with pytest.raises(ValueError, match=f"expects {packed[0]}-channel images, got {packed[0] + 1}"):
        implicit(wrong, y[:2])


def test_dcgan_implicit_label_maps_under_bf16_autocast_and_channels_last():
    """The bf16 path the MNIST presets train on: the implicit D's logits stay within bf16 rounding of the built one's."""
    m = Config().model
    m.width = 16
    torch.manual_seed(1)
    _, built = NETWORKS.get("dcgan")(m, (1, 28, 28), 10, "tanh")
    m.d_label_maps = "implicit"
    _, implicit = NETWORKS.get("dcgan")(m, (1, 28, 28), 10, "tanh")
    implicit.load_state_dict(built.state_dict())
    built, implicit = (n.to(memory_format=torch.channels_last) for n in (built, implicit))
    x = torch.randn(16, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.arange(16) % 10
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        a, b = built(x, y).float(), implicit(x, y).float()
    assert float((a - b).abs().max()) < 0.05 * float(a.abs().max()) + 0.02, (a, b)


def test_flatten_hands_a_channels_last_gradient_back_channels_last_with_the_same_values():
    """nets.layers.Flatten: nn.Flatten's values and gradients (also second order, as R1 / gradient penalties take
    them), with a channels-last input's gradient in channels-last memory (a channels-first one sends the D's
    LeakyReLU and BatchNorm backward onto PyTorch's slow mixed-format path); other inputs as nn.Flatten."""
    from ganforge.nets.layers import Flatten
    torch.manual_seed(0)
    w = torch.randn(5 * 3 * 3, dtype=torch.double)
    for channels_last in (True, False):
        x0 = torch.randn(4, 5, 3, 3, dtype=torch.double)
        if channels_last:
            x0 = x0.contiguous(memory_format=torch.channels_last)
        grads = []
        for flat in (nn.Flatten(), Flatten()):
            x = x0.clone(memory_format=torch.preserve_format).requires_grad_(True)
            h = torch.nn.functional.leaky_relu(x, 0.2)
            out = flat(h)
            assert out.shape == (4, 45)
            (g,) = torch.autograd.grad((out @ w).square().sum(), x, create_graph=True)
            (gg,) = torch.autograd.grad(g.square().sum(), x)  # second order: R1 differentiates the input gradient
            grads.append((out.detach(), g.detach(), gg, h))
        (o0, g0, gg0, _), (o1, g1, gg1, h1) = grads
        assert torch.equal(o1, o0) and torch.equal(g1, g0) and torch.equal(gg1, gg0)
        assert float(gg0.abs().sum()) > 0
        if channels_last:
            (g_flat,) = torch.autograd.grad(Flatten()(h1).sum(), h1)
            assert g_flat.is_contiguous(memory_format=torch.channels_last) and not g_flat.is_contiguous()
            (g_plain,) = torch.autograd.grad(nn.Flatten()(h1).sum(), h1)
            assert not g_plain.is_contiguous(memory_format=torch.channels_last)  # what the fix is for
    one = torch.randn(2, 7, requires_grad=True)  # not 4-d: nn.Flatten's own path
    assert torch.equal(Flatten()(one), one)


@pytest.mark.parametrize("preset,more,says", [
    ("mnist-cgan", ["model.d_label_maps=maps"], "built | implicit"),
    ("ring8-gan", ["model.d_label_maps=implicit"], "model.arch=mlp"),
    ("mnist-cgan", ["model.d_label_maps=implicit", "model.d_cond=projection"], "model.d_cond=projection")])
def test_dcgan_implicit_label_maps_elsewhere_is_refused(preset, more, says):
    from ganforge.config import resolve
    with pytest.raises(ConfigError, match=r"model\.d_label_maps") as e:
        resolve(preset, more)
    assert says in str(e.value)


def test_adapt_sequential_with_sigmoid_strips_it():
    D = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1), nn.Sigmoid())
    A = adapt_discriminator(D, conditional=False)
    x = torch.randn(6, 2)
    logits = A(x)
    assert logits.shape == (6,)
    assert torch.allclose(torch.sigmoid(logits), D(x).view(-1), atol=1e-7)
    assert A.d_output == "logits"


def test_adapt_module_ending_in_sigmoid_reads_probabilities():
    class ProbD(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 1)
            self.out = nn.Sigmoid()

        def forward(self, x):
            return self.out(self.fc(x))

    D = ProbD()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        A = adapt_discriminator(D, conditional=False)
    assert A.d_output == "probs" and any("probabilities" in str(x.message) for x in w)
    x = torch.randn(4, 2)
    assert torch.allclose(A(x), D.fc(x).view(-1), atol=1e-4)
    with torch.no_grad():  # saturated probabilities stay finite
        D.fc.weight.fill_(1e4)
    assert torch.isfinite(A(x)).all()


def test_adapt_label_argument_and_errors():
    class CondG(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.fc = nn.Embedding(3, 2), nn.Linear(4, 2)

        def forward(self, z, y):
            return self.fc(torch.cat([z, self.emb(y)], 1))

    G = adapt_generator(CondG(), conditional=True)
    assert G(torch.randn(5, 2), torch.randint(3, (5,))).shape == (5, 2)
    with pytest.raises(ConfigError, match="label"):
        adapt_generator(nn.Sequential(nn.Linear(2, 2)), conditional=True)
    bad = adapt_discriminator(nn.Linear(2, 3), conditional=False, d_output="logits")
    with pytest.raises(ConfigError, match="one value per sample"):
        bad(torch.randn(4, 2))
    with pytest.raises(ConfigError, match="d_output"):
        adapt_discriminator(nn.Linear(2, 1), False, d_output="sigmoid")


def test_minibatch_std_is_the_spread_of_each_group_broadcast_to_its_members():
    """model.d_mbstd's layer (ProGAN): sample i joins group i mod (N / group); the new channel of every member
    is the standard deviation over the group of each feature, averaged over channels and positions."""
    from ganforge.nets.layers import MinibatchStd
    torch.manual_seed(0)
    x = torch.randn(8, 3, 2, 2, dtype=torch.double)
    out = MinibatchStd(4)(x)
    assert out.shape == (8, 4, 2, 2) and torch.equal(out[:, :3], x)
    for j in (0, 1):  # two groups of four: samples j, j + 2, j + 4, j + 6
        members = x[j::2]
        want = (members - members.mean(0)).square().mean(0).add(1e-8).sqrt().mean()
        for i in range(j, 8, 2):
            torch.testing.assert_close(out[i, 3], torch.full((2, 2), float(want), dtype=torch.double))
    assert not torch.isclose(out[0, 3, 0, 0], out[1, 3, 0, 0])  # the groups differ
    same = MinibatchStd(4)(x[:1].expand(4, -1, -1, -1).contiguous())  # a group of copies: no spread
    assert float(same[:, 3].max()) == pytest.approx(1e-4)
    small = MinibatchStd(4)(x[:2])  # fewer samples than a group: the batch is one group
    torch.testing.assert_close(small[0, 3], small[1, 3])
    with pytest.raises(ValueError, match=r"model\.d_mbstd=4.*batch of 6 samples"):
        MinibatchStd(4)(x[:6])
    with pytest.raises(ValueError, match=">= 2 samples"):
        MinibatchStd(1)
    cl = x.float().contiguous(memory_format=torch.channels_last)  # bf16 under autocast, channels-last: the same
    with torch.autocast("cpu", dtype=torch.bfloat16):
        b = MinibatchStd(4)(cl.to(torch.bfloat16))
    assert b.dtype == torch.bfloat16 and b.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(b[:, 3].float(), out[:, 3].float(), rtol=2e-2, atol=1e-2)


def test_dcgan_d_mbstd_adds_the_channel_to_ds_last_maps_and_couples_a_group():
    """model.d_mbstd=4: D's linear layer reads one more channel at the smallest resolution; a sample's logit then
    depends on the other members of its group and on no other sample (D without batch norm); 0 builds DCGAN's D."""
    m = Config().model
    m.width, m.d_batchnorm = 8, False
    _, D0 = NETWORKS.get("dcgan")(m, (1, 28, 28), 10, "tanh")
    m.d_mbstd = 4
    _, D = NETWORKS.get("dcgan")(m, (1, 28, 28), 10, "tanh")
    assert D.feature_dim == D0.feature_dim + 7 * 7 and D0.feature_dim == 16 * 7 * 7
    assert [k for k in D.state_dict()] == [k for k in D0.state_dict()]  # no parameters of its own
    torch.manual_seed(0)
    x, y = torch.randn(8, 1, 28, 28), torch.arange(8) % 10
    with torch.no_grad():
        base = D(x, y)
        x2 = x.clone()
        x2[2] += 1.0  # sample 2 is in group 0 (samples 0, 2, 4, 6)
        moved = D(x2, y)
    assert base.shape == (8,)
    assert all(abs(float(moved[i] - base[i])) > 1e-6 for i in (0, 4, 6))
    torch.testing.assert_close(moved[1::2], base[1::2])
    D(x, y).sum().backward()
    assert all(p.grad is not None for p in D.parameters())


@pytest.mark.parametrize("overrides,says", [
    (["model.d_mbstd=1"], "group size >= 2"),
    (["model.arch=mlp", "model.d_mbstd=4"], "model.arch=mlp has none"),
    (["model.d_mbstd=5"], "data.batch_size"),                     # 64 samples in groups of 5
])
def test_dcgan_d_mbstd_bad_values_are_refused_by_name(overrides, says):
    from ganforge.config import resolve
    with pytest.raises(ConfigError) as e:
        resolve("mnist-cgan", overrides)
    assert says in str(e.value)
