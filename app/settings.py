"""Persistent settings (QSettings, organisation/app "StyleCam"). `$STYLECAM_SETTINGS` points
them at an INI file instead, which is how tests keep away from the user's own settings."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

from app.auto_size import AUTO_SIZE, MODELS
from models.detail import DEFAULT_DETAIL, DEFAULT_FACES

ORGANIZATION = "StyleCam"
APPLICATION = "StyleCam"
COMPARE_MODES = ("off", "side", "split")


def open_settings() -> QSettings:
    path = os.environ.get("STYLECAM_SETTINGS")
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def _user_folder(location: QStandardPaths.StandardLocation) -> str:
    folder = QStandardPaths.writableLocation(location)
    return str(Path(folder or Path.home()) / "StyleCam")


def default_output_dir() -> str:
    """Recordings: the user's Videos folder (Movies on macOS) + /StyleCam."""
    return _user_folder(QStandardPaths.StandardLocation.MoviesLocation)


def default_snapshot_dir() -> str:
    """Snapshots: the user's Pictures folder + /StyleCam."""
    return _user_folder(QStandardPaths.StandardLocation.PicturesLocation)


@dataclass
class AppSettings:
    """What survives a restart (the window geometry is stored beside these by the window)."""

    source: str = "auto"
    style: str = ""
    strength: float = 1.0
    compare: str = "off"
    size: int = AUTO_SIZE  # processing size (short side); 0 = native, AUTO_SIZE (-1) = Auto
    output_dir: str = ""  # recordings
    snapshot_dir: str = ""
    mirror: bool = False
    resolution: str = "640x480"
    record_side_by_side: bool = False
    stabilize: bool = True  # temporal stabilizer: steady strokes where the scene is still
    detail: float = DEFAULT_DETAIL  # camera edges kept by the upscaling: 0 plain resize .. 1 every edge
    faces: bool = DEFAULT_FACES  # face-aware detail: faces get more of it than the scene
    model: str = "auto"  # MODELS: each style's full model, its fast twin, or what fits the machine

    @classmethod
    def load(cls, store: QSettings) -> AppSettings:
        values = cls()
        for f in fields(cls):
            raw = store.value(f.name)
            if raw is None:
                continue
            default = getattr(values, f.name)
            try:
                # INI files hand back strings: convert by the field's default type
                if isinstance(default, bool):
                    value = raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes")
                else:
                    value = type(default)(raw)
            except (TypeError, ValueError):
                continue  # a hand-edited or stale value: keep the default
            setattr(values, f.name, value)
        if values.model not in MODELS:
            values.model = "auto"
        if values.compare not in COMPARE_MODES:
            values.compare = "off"
        values.strength = min(1.0, max(0.0, values.strength))
        values.size = max(AUTO_SIZE, values.size)  # saved: 32 .. 4096, 0 (native) or AUTO_SIZE
        values.detail = min(1.0, max(0.0, values.detail))
        values.output_dir = values.output_dir or default_output_dir()
        values.snapshot_dir = values.snapshot_dir or default_snapshot_dir()
        return values

    def save(self, store: QSettings) -> None:
        for f in fields(self):
            store.setValue(f.name, getattr(self, f.name))
        store.sync()

    @property
    def resolution_wh(self) -> tuple[int, int]:
        try:
            w, h = (int(v) for v in self.resolution.lower().split("x"))
        except ValueError:
            return 640, 480
        return w, h
