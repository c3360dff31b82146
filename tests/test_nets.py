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
