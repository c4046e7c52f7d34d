"""The face term: the evaluation's face structure, made a loss on the faces found in the step's photos.

`train.evaluate` judges a style's faces by the Pearson correlation of the input's and the
output's luma-gradient magnitudes inside each detected face box (train/evaluation/webcam_metrics.py).
The structure prior (train/losses/webcam_losses.py) asks for the same everywhere, in windows
weighted by how much structure the photo has, so a face that fills a small part of a crop weighs
little against the room around it, and painted texture on the skin costs it nothing it notices.
This term finds the faces in each training photo with the OpenCV Haar cascade that the app and
the evaluation use (it ships inside opencv-python) and asks, for each face box, for what the evaluation measures:
1 - the correlation of the two gradient maps over the box, averaged over the faces of the batch.
A batch without faces gives 0 (landscapes, rooms, a crop that cut the face off).

Detection runs on the photo crop, without gradients, at the crop's size: 12-14 ms a 128-px crop
on the 2-core CPU with three trainings on it, against a step of 400-700 ms. About one crop in
eight of the webcam_photos + landscapes mix holds a whole face (--min-scale 0.5).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch

from models.faces import load_face_cascade
from train.losses.webcam_losses import luma, sobel_magnitude

MIN_FACE = 24  # px: the cascade's own window
Box = tuple[int, int, int, int]  # x, y, w, h in pixels of the crop
_face_cascade = cache(load_face_cascade)  # read once per process


def photo_faces(photos: torch.Tensor, min_size: int = MIN_FACE) -> list[list[Box]]:
    """The frontal faces in each of `photos` (B, 3, H, W) RGB in [-1, 1], as pixel boxes."""
    gray = ((luma(photos.detach()) + 1.0) * 127.5).clamp(0, 255).round().to(torch.uint8).cpu().numpy()
    found = []
    for image in gray[:, 0]:
        boxes = _face_cascade().detectMultiScale(
            np.ascontiguousarray(image), scaleFactor=1.1, minNeighbors=5, minSize=(min_size, min_size)
        )
        found.append([tuple(int(v) for v in box) for box in boxes])
    return found


def _pearson(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    a, b = a - a.mean(), b - b.mean()
    return (a * b).sum() / ((a.pow(2).sum() * b.pow(2).sum()).sqrt() + eps)


def face_structure_loss(styled: torch.Tensor, photo: torch.Tensor, faces: list[list[Box]]) -> torch.Tensor:
    """Mean over the faces of 1 - the correlation of the photo's and the output's luma-gradient
    magnitudes inside the face box (0 when there are no faces): 0 = every edge of the face kept,
    up to 2 = anti-correlated."""
    with torch.autocast(device_type=styled.device.type, enabled=False):
        g_out = sobel_magnitude(luma(styled))
        g_src = sobel_magnitude(luma(photo))
        losses = [
            1.0 - _pearson(g_out[i, 0, y : y + h, x : x + w], g_src[i, 0, y : y + h, x : x + w])
            for i, boxes in enumerate(faces)
            for x, y, w, h in boxes
        ]
    if not losses:
        return styled.new_zeros((), dtype=torch.float32)
    return torch.stack(losses).mean()
