"""Reading training folders: bad input gives one clear line or a counted skip, never a crash."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from models.errors import StyleCamError
from train.trainers.cyclegan import main as train_main
from train.trainers.data import StepBatchSampler, UnpairedDataset, read_rgb, scan_folder

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
