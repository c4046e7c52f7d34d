"""The built-in animated demo scene, generated in code (no bundled media): shown when no camera
opens, so the app always has something to stylize. A sky gradient, a sun, three parallax hill
layers, a bouncing ball and a clock: textures and edges that make a style visible."""

from __future__ import annotations

import math

import cv2
import numpy as np


class DemoScene:
    """Renders frame `t` (seconds) at a fixed size; costs ~1-2 ms at 640x480 on a CPU core."""

    def __init__(self, width: int = 640, height: int = 480) -> None:
        self.width, self.height = width, height
        rows = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
        top, bottom = np.array([150, 80, 30], np.float32), np.array([235, 200, 160], np.float32)  # BGR
        self._sky = np.ascontiguousarray(np.broadcast_to((top + (bottom - top) * rows[..., None]), (height, width, 3)))
        self._sky = self._sky.astype(np.uint8)
        # Each hill layer is rendered once at twice the width and then scrolled (a slice, no redraw).
        self._layers = [
            self._hill_layer(0.55, 0.10, 3.0, (70, 140, 60), seed=1),
            self._hill_layer(0.68, 0.08, 5.0, (40, 110, 40), seed=2),
            self._hill_layer(0.80, 0.06, 7.0, (30, 70, 90), seed=3),
        ]
        self._speeds = (12.0, 30.0, 60.0)  # pixels per second: far layers move slower

    def _hill_layer(self, level: float, amplitude: float, waves: float, colour: tuple, seed: int) -> tuple:
        w2, h = self.width * 2, self.height
        rng = np.random.default_rng(seed)
        x = np.arange(w2, dtype=np.float32)
        phase = rng.uniform(0, 2 * math.pi)
        # whole periods over 2*width, so the scrolled layer wraps without a seam
        y = h * (level + amplitude * np.sin(2 * math.pi * waves * x / w2 + phase))
        y += h * amplitude * 0.3 * np.sin(2 * math.pi * waves * 3 * x / w2)
        mask = np.arange(h, dtype=np.float32)[:, None] >= y[None, :]
        image = np.zeros((h, w2, 3), np.uint8)
        image[mask] = colour
        noise = rng.integers(0, 40, (h, w2), dtype=np.uint8)
        image[mask] = cv2.subtract(image, cv2.merge([noise, noise, noise]))[mask]  # a little texture
        return image, mask.astype(np.uint8)

    def render(self, t: float) -> np.ndarray:
        """A new BGR uint8 frame (the caller owns it)."""
        w, h = self.width, self.height
        frame = self._sky.copy()
        sun = (int(w * (0.15 + 0.7 * (0.5 + 0.5 * math.sin(t * 0.2)))), int(h * 0.22))
        cv2.circle(frame, sun, max(8, h // 10), (80, 220, 255), -1, cv2.LINE_AA)
        for (image, mask), speed in zip(self._layers, self._speeds, strict=True):
            offset = int(t * speed) % w
            # cv2.copyTo with a uint8 mask is ~10x faster than numpy boolean indexing here
            cv2.copyTo(image[:, offset : offset + w], mask[:, offset : offset + w], frame)
        bounce = abs(math.sin(t * 2.0))
        ball = (int(w * (0.5 + 0.35 * math.sin(t * 0.7))), int(h * (0.85 - 0.4 * bounce)))
        cv2.circle(frame, ball, max(6, h // 16), (40, 40, 220), -1, cv2.LINE_AA)
        cv2.circle(frame, ball, max(6, h // 16), (255, 255, 255), 2, cv2.LINE_AA)
        scale = h / 480
        label = f"StyleCam demo  {int(t // 60):02d}:{t % 60:05.2f}"
        origin = (int(16 * scale), int(40 * scale))
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
        x, y = origin
        cv2.rectangle(frame, (x - 6, y - th - 6), (x + tw + 6, y + base + 4), (40, 30, 20), -1)
        cv2.putText(frame, label, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 2, cv2.LINE_AA)
        return frame
