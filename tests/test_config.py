"""Config: presets, overrides, strict keys with suggestions, types and ranges."""
import re

import pytest

from ganforge.config import Config, all_keys, apply_overrides, key_docs, preset_names, resolve
from ganforge.errors import ConfigError

REQUIRED_KEYS = ["train.steps", "train.seed", "train.ckpt_every", "train.sample_every", "train.log_every",
                 "data.name", "data.batch_size", "model.arch", "model.z_dim", "loss.name", "loss.n_critic",
                 "optim.lr_g", "optim.lr_d"]


def test_required_keys_exist_and_are_documented():
    keys, docs = all_keys(), key_docs()
    for k in REQUIRED_KEYS:
        assert k in keys
    assert set(keys) == set(docs), set(keys) ^ set(docs)


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_resolves(name):
    cfg = resolve(name)
    assert cfg.name == name
    assert Config.from_dict(cfg.to_dict()) == cfg  # round trip


def test_overrides_are_typed():
    cfg = resolve("ring8-gan", ["train.steps=17", "optim.lr_g=1e-4", "model.g_hidden=[8, 9]",
                                "train.progress=false", "loss.name=hinge"])
    assert cfg.train.steps == 17 and isinstance(cfg.train.steps, int)
    assert cfg.optim.lr_g == pytest.approx(1e-4) and isinstance(cfg.optim.lr_g, float)
    assert cfg.model.g_hidden == [8, 9]
    assert cfg.train.progress is False
    assert cfg.loss.name == "hinge"


@pytest.mark.parametrize("override,match", [
    ("train.stepz=3", "did you mean 'train.steps'"),
    ("trian.steps=3", "did you mean 'train.steps'"),
    ("optim.lr=0.1", "unknown config key 'optim.lr'"),
    ("train.steps=abc", "train.steps' expects int"),
    ("train.steps=1.5", "train.steps' expects int"),
    ("train.progress=3", "expects bool"),
    ("data.batch_size=0", "data.batch_size' = 0 is out of range"),
    ("train.steps=-5", "train.steps"),
    ("optim.lr_g=-1e-4", "optim.lr_g"),
    ("optim.lr_d=0", "optim.lr_d"),
    ("loss.n_critic=0", "loss.n_critic"),
    ("train.ema=1.0", "train.ema"),
    ("loss.name=wgan_gp", "did you mean 'wgan-gp'"),
    ("model.arch=mpl", "did you mean 'mlp'"),
    ("data.name=ring9", "did you mean 'ring8'"),
    ("loss.penalty=gradient", "unknown penalty"),
    ("model.g_hidden=[8, x]", "model.g_hidden"),
    ("steps", "key=value"),
    ("train.seed=1e30", "train.seed"),
    ("train.seed=-1", "train.seed"),
    ("train.device=cudaXYZ", "train.device"),
    ("name=../../x", "name"),
    ("name=", "name"),
])
def test_bad_overrides_rejected_with_clear_message(override, match):
    with pytest.raises(ConfigError, match="(?i)" + re.escape(match)):
        resolve("ring8-gan", [override])


def test_unknown_preset_suggests():
    with pytest.raises(ConfigError, match="Did you mean 'ring8-gan'"):
        resolve("ring8-gam")


def test_yaml_file_config(tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text("data: {name: gauss1d}\ntrain: {steps: 10}\n")
    cfg = resolve(str(p))
    assert cfg.name == "mine" and cfg.data.name == "gauss1d" and cfg.train.steps == 10
    p.write_text("data: {nmae: gauss1d}\n")
    with pytest.raises(ConfigError, match="Did you mean 'data.name'"):
        resolve(str(p))
    p.write_text("data: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        resolve(str(p))
    with pytest.raises(ConfigError, match="does not exist"):
        resolve(str(tmp_path / "missing.yaml"))


def test_apply_overrides_validates():
    cfg = Config()
    with pytest.raises(ConfigError):
        apply_overrides(cfg, ["model.z_dim=0"])
