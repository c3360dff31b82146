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
