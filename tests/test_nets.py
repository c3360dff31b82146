"""Contract tests over the network registry and the adapters for users' own modules."""
import warnings

import pytest
import torch
from torch import nn

from ganforge.config import Config
from ganforge.errors import ConfigError
from ganforge.nets.adapt import adapt_discriminator, adapt_generator
from ganforge.registries import NETWORKS

SHAPES = {"points": [(1,), (2,)], "images": [(1, 16, 16), (1, 28, 28), (3, 32, 32), (3, 64, 64)]}
CASES = [(arch, shape) for arch in NETWORKS.names() for kind in NETWORKS.get(arch).kinds for shape in SHAPES[kind]]


@pytest.mark.parametrize("arch,shape", CASES)
@pytest.mark.parametrize("num_classes", [0, 3])
@pytest.mark.parametrize("bn_dropout", [False, True])
def test_network_contract(arch, shape, num_classes, bn_dropout):
    m = Config().model
    m.z_dim, m.g_batchnorm, m.d_batchnorm, m.d_dropout = 7, bn_dropout, bn_dropout, 0.3 if bn_dropout else 0.0
    m.width, m.g_hidden, m.d_hidden = 8, [16, 16], [16, 16]
    m.d_cond = "projection" if bn_dropout else "concat"
    G, D = NETWORKS.get(arch)(m, shape, num_classes, "tanh")
    z = torch.randn(5, 7)
    y = torch.randint(num_classes, (5,)) if num_classes else None
    x = G(z, y)
    assert x.shape == (5, *shape)
    assert x.abs().max() <= 1.0  # tanh output
    logits = D(x, y)
    assert logits.shape == (5,)
    logits.sum().backward()
    assert all(p.grad is not None for p in G.parameters() if p.requires_grad)


@pytest.mark.parametrize("arch", NETWORKS.names())
@pytest.mark.parametrize("d_cond", ["concat", "projection"])
def test_conditional_networks_depend_on_label(arch, d_cond):
    torch.manual_seed(0)
    m = Config().model
    m.width, m.d_cond = 8, d_cond
    shape = SHAPES[NETWORKS.get(arch).kinds[-1]][0]
    G, D = NETWORKS.get(arch)(m, shape, 4, "linear")
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
