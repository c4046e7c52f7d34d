"""The face term (train/losses/face_structure.py): it finds the face in a real training portrait,
reads 0 for the photo itself and more for a blurred or noise-painted face, reaches the output only
inside the face, reads 0 without faces, and its gradient brings a blurred face's edges back."""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from tests.conftest import shared_path
from train.losses.face_structure import face_structure_loss, photo_faces
from train.losses.priors import PriorInputs, weighted_priors
from train.trainers.config import DistillConfig
from train.trainers.data import resize_short, to_tensor


def portrait_crop(size: int = 128) -> torch.Tensor:
    """The first training portrait, its face found at full size and cropped square around it
    with a margin, at `size` px: (1, 3, size, size) RGB in [-1, 1]."""
    path = sorted(shared_path("webcam_photos", "trainA").glob("portrait_*"))[0]
    bgr = cv2.imread(str(path))
    found = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml").detectMultiScale(
        cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), 1.1, 5, minSize=(60, 60)
    )
    assert len(found), f"no face in {path.name}"
    x, y, w, h = max(found, key=lambda b: b[2] * b[3])
    side = int(max(w, h) * 1.6)
    x0, y0 = max(0, x + w // 2 - side // 2), max(0, y + h // 2 - side // 2)
    crop = cv2.cvtColor(bgr[y0 : y0 + side, x0 : x0 + side], cv2.COLOR_BGR2RGB)
    return to_tensor(resize_short(crop, size)[:size, :size])[None]


def blurred(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(F.pad(x, (3, 3, 3, 3), mode="replicate"), 7, 1)


def test_the_face_is_found_and_the_loss_reads_what_the_evaluation_would() -> None:
    photo = portrait_crop()
    faces = photo_faces(photo)
    assert len(faces) == 1 and len(faces[0]) == 1, faces
    assert face_structure_loss(photo, photo, faces).item() < 1e-4
    noise = torch.randn(photo.shape, generator=torch.Generator().manual_seed(0)) * 0.3
    soft, painted = face_structure_loss(blurred(photo), photo, faces), face_structure_loss(photo + noise, photo, faces)
    assert 0.1 < soft.item() < 1.0 and 0.1 < painted.item() < 1.0, (soft, painted)


def test_the_gradient_reaches_the_output_inside_the_face_only_and_no_face_reads_zero() -> None:
    photo = portrait_crop()
    faces = photo_faces(photo)
    styled = blurred(photo).requires_grad_(True)
    face_structure_loss(styled, photo, faces).backward()
    x, y, w, h = faces[0][0]
    inside = torch.zeros(photo.shape[-2:], dtype=torch.bool)
    inside[max(0, y - 1) : y + h + 1, max(0, x - 1) : x + w + 1] = True  # the Sobel's one-pixel reach
    grad = styled.grad.abs().sum(1)[0]
    assert grad[inside].sum() > 0 and grad[~inside].sum() == 0

    flat = torch.zeros(1, 3, 128, 128)  # no face: the term is 0, as for a landscape
    assert photo_faces(flat) == [[]]
    assert face_structure_loss(flat, flat, [[]]).item() == 0.0


def test_following_the_gradient_brings_a_blurred_faces_edges_back() -> None:
    photo = portrait_crop()
    faces = photo_faces(photo)
    styled = blurred(photo).requires_grad_(True)
    opt = torch.optim.Adam([styled], lr=0.01)
    start = face_structure_loss(styled, photo, faces).item()
    for _ in range(30):
        opt.zero_grad()
        face_structure_loss(styled, photo, faces).backward()
        opt.step()
    assert face_structure_loss(styled, photo, faces).item() < 0.5 * start


def test_a_distillation_config_weighs_the_term_under_its_own_column() -> None:
    photo = portrait_crop()
    config = DistillConfig(teacher="x", lambda_faces=3.0)
    out = weighted_priors(config, PriorInputs(photo=photo, styled=blurred(photo), config=config), torch.device("cpu"))
    alone = face_structure_loss(blurred(photo), photo, photo_faces(photo))
    assert np.isclose(out["faces"].item(), 3.0 * alone.item())
    assert (
        weighted_priors(DistillConfig(teacher="x"), PriorInputs(photo, photo, config), torch.device("cpu"))[
            "faces"
        ].item()
        == 0.0
    )
