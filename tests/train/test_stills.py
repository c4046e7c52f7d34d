"""Figures on a folder of stills (train/evaluation/stills.py): faces on portraits and selfies, SWD on
rooms, through `python -m train.evaluate --stills`, on a few real webcam_photos/testA files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from models.errors import StyleCamError
from models.style_library import StyleLibrary
from tests.conftest import shared_path
from train.evaluation.evaluate import main as evaluate_main
from train.evaluation.stills import face_stills, scan_stills, still_kind, webcam_scale
from train.evaluation.webcam_metrics import SHEET_CROP


def test_stills_are_grouped_by_their_name_prefix(tmp_path: Path) -> None:
    image = np.full((40, 50, 3), 128, np.uint8)
    for name in ("portrait_a.jpg", "selfie_b.png", "room_c.jpg", "room_a.jpg", "cat_d.jpg", "notes.txt"):
        if name.endswith(".txt"):
            (tmp_path / name).write_text("not an image")
        else:
            cv2.imwrite(str(tmp_path / name), image)
    groups = scan_stills(tmp_path)
    assert {k: [p.name for p in v] for k, v in groups.items()} == {
        "portrait": ["portrait_a.jpg"],
        "selfie": ["selfie_b.png"],
        "room": ["room_a.jpg", "room_c.jpg"],
    }
    assert still_kind(Path("x/Selfie_1.jpg")) == "selfie" and still_kind(Path("landscape_1.jpg")) is None
    (tmp_path / "other").mkdir()
    cv2.imwrite(str(tmp_path / "other" / "cat.jpg"), image)
    with pytest.raises(StyleCamError, match="no portrait_"):
        scan_stills(tmp_path / "other")


@pytest.fixture
def stills(tmp_path: Path) -> Path:
    """Two portraits, two selfies and three rooms of webcam_photos/testA (the first by name)."""
    test_a = shared_path("webcam_photos", "testA")
    folder = tmp_path / "stills"
    folder.mkdir()
    for kind, count in (("portrait", 2), ("selfie", 2), ("room", 3)):
        for path in sorted(test_a.glob(f"{kind}_*"))[:count]:
            shutil.copy(path, folder / path.name)
    return folder


def identity_style() -> nn.Module:
    """A 1x1 convolution that passes the picture through (the engine's backends want a conv)."""
    conv = nn.Conv2d(3, 3, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
        conv.bias.zero_()
    return conv.eval()


@pytest.mark.shared_data
def test_face_structure_on_real_portraits_is_one_for_the_input_and_drops_with_blur(stills: Path) -> None:
    faces = face_stills(identity_style(), scan_stills(stills)["portrait"], 256)
    assert faces.images == 2 and faces.with_faces == 2 and len(faces.values) >= 2
    assert np.mean(faces.values) > 0.97  # the engine's fp32 round trip of an identity style keeps every edge
    assert 0.4 < np.mean(faces.blur) < 0.8  # sigma 3, as on the clips (~0.62)
    assert len(faces.webcam) == len(faces.values)  # each face again at webcam scale
    assert 0.8 < np.mean(faces.webcam) < np.mean(faces.values)  # the engine's round trip through ~53 px


def test_webcam_scale_gives_the_face_the_clips_size() -> None:
    still = np.zeros((300, 256, 3), np.uint8)
    small, boxes, size = webcam_scale(still, [(30, 40, 200, 190), (0, 0, 60, 50)], 256)
    assert small.shape[:2] == (112, 96) and boxes[0] == (11, 15, 75, 71)  # the largest face 75 px wide
    assert size == 51  # 256 of 480, as the live view processes a 640x480 webcam
    assert webcam_scale(still, [(0, 0, 50, 50)], 256)[0].shape == still.shape  # never enlarged


@pytest.mark.shared_data
def test_evaluate_stills_on_a_library_style(library: StyleLibrary, stills: Path, tmp_path: Path, capsys) -> None:
    paintings = shared_path("vangogh2photo", "testB")
    out = tmp_path / "figures.json"
    args = ["--style", "alpha", "--library", str(library.root), "--stills", str(stills), "--style-images",
            str(paintings), "--size", "64", "--clip-size", "128", "--threads", "1", "--json", str(out),
            "--stills-sheet", str(tmp_path / "faces.jpg")]  # fmt: skip
    assert evaluate_main(args) == 0
    sheet = cv2.imread(str(tmp_path / "faces.jpg"))  # the faces at webcam scale, input | stylized, decoded back
    assert sheet is not None and sheet.shape[1] == 2 * 2 * SHEET_CROP + 8
    printed = capsys.readouterr().out
    assert "portrait" in printed and "rooms (no style)" in printed and "Reinhard" in printed
    assert "test photos" not in printed and "flicker" not in printed  # the stills only
    figures = json.loads(out.read_text())["stills"]
    assert figures["size"] == 64 and figures["face_size"] == 128 and figures["precision"] == "fp32"
    faces = figures["faces"]
    assert faces["portrait"]["images"] == 2 and faces["selfie"]["images"] == 2 and faces["all"]["images"] == 4
    assert faces["all"]["faces"] >= 3 and faces["all"]["face_structure_webcam_scale"] is not None
    assert -1 <= faces["all"]["face_structure"] < 0.95  # an untrained generator
    rooms = figures["rooms"]
    assert rooms["images"] == 3 and rooms["style_images"] > 3
    assert set(rooms["swd_joint"]) == {"stylized", "photos", "reinhard"}
    assert all(v > 0 for v in rooms["swd"].values())
    assert rooms["swd_joint"]["reinhard"] < rooms["swd_joint"]["photos"]  # colour transfer moves towards the paintings
    assert evaluate_main(["--style", "alpha", "--library", str(library.root), "--stills", str(stills)]) == 2
    assert "--stills needs --style-images" in capsys.readouterr().err


@pytest.mark.shared_data
def test_evaluate_stills_on_a_run(trained_run: Path, stills: Path, tmp_path: Path, dataroot: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    args = ["--run", str(run), "--size", "48", "--clip-size", "64", "--no-timing", "--threads", "1"]
    assert evaluate_main(args) == 0  # the test-split figures
    assert evaluate_main([*args, "--stills", str(stills)]) == 0  # stills only: added beside them
    evaluation = json.loads((run / "evaluation.json").read_text())
    assert "swd" in evaluation and evaluation["stills"]["rooms"]["images"] == 3
    assert evaluation["stills"]["rooms"]["style_images"] == 3  # the run's synthetic testB
    out = tmp_path / "both.json"
    assert evaluate_main([*args, "--photos", str(dataroot / "testA"), "--stills", str(stills), "--json", str(out)]) == 0
    both = json.loads(out.read_text())
    assert both["swd"]["stylized"] > 0 and both["stills"]["faces"]["all"]["images"] == 4
