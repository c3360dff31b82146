"""folder:PATH datasets: modes, 16-bit, class sub-folders, resize/crop, and injected faults."""
import os

import numpy as np
import pytest
from PIL import Image

import ganforge
from ganforge.config import Config
from ganforge.data.source import load_source
from ganforge.errors import DataError
from reliability import make_faulty_folder, save_image as save


@pytest.fixture
def faulty_folder(tmp_path):
    root = tmp_path / "imgs"
    make_faulty_folder(root)
    return root


def test_folder_modes_and_faults(faulty_folder, capsys):
    cfg = Config().data
    cfg.resolution = 8
    src = load_source(f"folder:{faulty_folder}", cfg)
    err = capsys.readouterr().err
    assert "skipped 4 of 10 files" in err
    for name in ("zero.png", "trunc.jpg", "trunc.png", "text.png"):
        assert name in err
    assert src.shape == (3, 8, 8) and len(src.x) == 6 and src.num_classes == 2
    assert src.class_names == ["a", "b"] and sorted(src.y.tolist()) == [0, 0, 0, 1, 1, 1]
    by_name = {os.path.basename(n): i for i, n in enumerate(sorted(
        str(p.relative_to(faulty_folder)) for p in faulty_folder.rglob("*") if p.name in
        ("gray.png", "gray16.png", "wide.png", "palette.png", "rgba.png", "cmyk.jpg")))}
    px = src.x.permute(0, 2, 3, 1).numpy()
    assert (px[by_name["gray16.png"]] == 128).all()          # 16-bit scaled, not clipped to white
    assert (px[by_name["gray.png"]] == 200).all()
    assert (px[by_name["palette.png"]] == [255, 0, 0]).all()
    assert (px[by_name["rgba.png"]] == [0, 255, 0]).all()
    assert (px[by_name["cmyk.jpg"]] >= 250).all()            # CMYK (0,0,0,0) is white
    assert (np.abs(px[by_name["wide.png"]].astype(int) - [10, 20, 30]) <= 1).all()


def test_folder_on_error_fail_names_first_bad_file(faulty_folder):
    cfg = Config().data
    cfg.resolution, cfg.on_error = 8, "fail"
    with pytest.raises(DataError, match=r"cannot decode '.*a/text.png'"):
        load_source(f"folder:{faulty_folder}", cfg)


def test_folder_grayscale_unlabelled_and_errors(tmp_path):
    for i in range(5):
        save(Image.new("L", (10, 12), 10 * i), tmp_path / "g" / f"{i}.png")
    cfg = Config().data
    cfg.resolution = 8
    src = load_source(f"folder:{tmp_path / 'g'}", cfg)
    assert src.shape == (1, 8, 8) and src.num_classes == 0
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        load_source(f"folder:{tmp_path / 'empty'}", cfg)
    with pytest.raises(DataError, match="not a directory"):
        load_source(f"folder:{tmp_path / 'missing'}", cfg)


def test_folder_trains_and_bad_resolution_fails_early(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(16):
        save(Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)), tmp_path / "d" / f"{i}.png")
    base = [f"data.name=folder:{tmp_path / 'd'}", "model.arch=dcgan", "model.width=8", "data.batch_size=8",
            "train.steps=3", "train.progress=false", "model.num_classes=0"]
    run = ganforge.train(None, base + ["data.resolution=16"], run_dir=tmp_path / "r")
    assert run.step == 3 and run.config.data.resolution == 16
    with pytest.raises(ganforge.ConfigError, match="cannot build resolution 20"):
        ganforge.train(None, base + ["data.resolution=20"], run_dir=tmp_path / "r2")
    assert not (tmp_path / "r2").exists()
