"""Reading training folders: bad input gives one clear line or a counted skip, never a crash."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from models.errors import StyleCamError
from train.trainers.config import DistillConfig
from train.trainers.cyclegan import main as train_main
from train.trainers.data import SingleDomainDataset, StepBatchSampler, UnpairedDataset, read_rgb, scan_folder

from .conftest import write_domain


def test_missing_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(StyleCamError, match="does not exist"):
        scan_folder(tmp_path / "nope", role="domain A")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StyleCamError, match="no readable images"):
        scan_folder(tmp_path / "empty")


def test_non_images_and_corrupt_files_are_skipped_with_a_count(tmp_path: Path) -> None:
    folder = write_domain(tmp_path / "a", channel=1, count=3)
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (folder / "empty.png").write_bytes(b"")
    with pytest.warns(UserWarning, match="2 unreadable images"):
        scan = scan_folder(folder)
    assert len(scan.files) == 3 and scan.non_images == 1 and scan.corrupt == 2
    assert "skipped 1 non-image files, 2 unreadable images" in scan.summary()


def test_grayscale_rgba_and_16bit_are_converted(tmp_path: Path) -> None:
    gray = np.full((20, 30), 77, np.uint8)
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 2], rgba[..., 3] = 200, 255
    deep = np.full((20, 30, 3), 65535, np.uint16)
    for name, img in (("g.png", gray), ("rgba.png", rgba), ("deep.png", deep)):
        cv2.imwrite(str(tmp_path / name), img)
    assert read_rgb(tmp_path / "g.png").shape == (20, 30, 3)
    rgb = read_rgb(tmp_path / "rgba.png")
    assert rgb.shape == (20, 30, 3) and rgb[0, 0, 0] == 200  # BGRA red channel -> RGB index 0
    assert read_rgb(tmp_path / "deep.png").max() == 255


def test_too_small_images(tmp_path: Path) -> None:
    folder = write_domain(tmp_path / "a", channel=0, count=2, size=40)
    write_domain(tmp_path / "small", channel=0, count=2, size=16)
    for p in (tmp_path / "small").iterdir():
        p.rename(folder / f"small_{p.name}")
    with pytest.warns(UserWarning, match="2 too-small"):
        assert len(scan_folder(folder, min_size=32).files) == 2
    with pytest.raises(StyleCamError, match="smaller than 64px; use a smaller --crop-size"):
        scan_folder(folder, min_size=64)


def test_cli_reports_bad_data_in_one_line(tmp_path: Path, capsys) -> None:
    code = train_main(["--data-a", str(tmp_path / "missing"), "--data-b", str(tmp_path), "--out", str(tmp_path / "r")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: domain A folder") and "\n" not in err
    assert train_main(["--out", str(tmp_path / "r")]) == 2
    assert "no training data" in capsys.readouterr().err


def test_samples_are_deterministic_and_rank_disjoint(tmp_path: Path) -> None:
    a = scan_folder(write_domain(tmp_path / "a", channel=2, count=5)).files
    b = scan_folder(write_domain(tmp_path / "b", channel=0, count=3)).files
    ds = UnpairedDataset(a, b, load_size=36, crop_size=32, flip=True, seed=3)
    again = UnpairedDataset(a, b, load_size=36, crop_size=32, flip=True, seed=3)
    for i in (0, 4, 7, 12):
        assert all((x == y).all() for x, y in zip(ds[i], again[i], strict=True))
    # Each epoch (max(|A|, |B|) = 5 samples) visits every A image once.
    firsts = {ds._a_index(i) for i in range(5)}
    assert firsts == set(range(5))
    r0, r1 = iter(StepBatchSampler(2, 3, 0, 2)), iter(StepBatchSampler(2, 3, 1, 2))
    assert next(r0) == [12, 13] and next(r1) == [14, 15] and next(r0) == [16, 17]


def test_a_load_range_draws_each_photo_at_a_random_scale(tmp_path: Path) -> None:
    """A horizontal ramp's slope in a crop says the scale it was resized to: one slope without
    a scale range, slopes spread across the range with one, the same again for the same seed."""
    folder = tmp_path / "ramp"
    folder.mkdir()
    ramp = np.tile(np.linspace(0, 255, 64), (64, 1)).astype(np.uint8)
    cv2.imwrite(str(folder / "ramp.png"), cv2.merge([ramp, ramp, ramp]))
    files = scan_folder(folder).files

    def slopes(dataset: SingleDomainDataset) -> list[float]:
        crops = [dataset[i][0] for i in range(24)]  # channel 0, [-1, 1]
        return [float((c[:, -1] - c[:, 0]).mean()) / 31 * 127.5 for c in crops]  # grey levels per pixel

    fixed = slopes(SingleDomainDataset(files, 64, 32, flip=False, seed=1))
    assert max(fixed) - min(fixed) < 0.05 and fixed[0] == pytest.approx(255 / 63, abs=0.1)
    ranged = slopes(SingleDomainDataset(files, 64, 32, flip=False, seed=1, min_load_size=32))
    assert min(ranged) > 255 / 63 - 0.1 and max(ranged) < 255 / 31 + 0.1
    assert max(ranged) - min(ranged) > 2.0, "the scales did not spread over the range"
    assert ranged == slopes(SingleDomainDataset(files, 64, 32, flip=False, seed=1, min_load_size=32))


def test_min_scale_gives_a_load_range_that_never_goes_below_the_crop() -> None:
    assert DistillConfig(teacher="x", load_size=256, crop_size=96, min_scale=0.5).min_load_size() == 128
    assert DistillConfig(teacher="x", load_size=36, crop_size=32, min_scale=0.5).min_load_size() == 32
    assert DistillConfig(teacher="x", load_size=256, crop_size=96).min_load_size() == 256
    with pytest.raises(StyleCamError, match="--min-scale 0"):
        DistillConfig(teacher="x", min_scale=0.0).validate()
