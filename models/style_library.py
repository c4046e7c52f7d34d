"""The style library: `weights/manifest.json` plus one safetensors file per style.

A manifest entry records what a person needs to trust a style: display name, architecture and
hyper-parameters, training data and steps, evaluation figures and the file's sha256. A style
given as a path (our safetensors or a reference CycleGAN `.pth`) works without being imported.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from models.checkpoints import (
    build_generator,
    clean_state_dict,
    load_generator_file,
    make_readable,
    read_generator_state,
    read_weights,
    save_generator,
)
from models.errors import StyleError
from models.registry import GeneratorConfig

DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "weights"
MANIFEST_NAME = "manifest.json"
# A style name is a file name on every OS and a CLI argument: letters and digits first, then those or "_.-".
NAME_CHARS = "A-Za-z0-9_.-"
STYLE_NAME = re.compile(f"[A-Za-z0-9][{NAME_CHARS}]*")


def default_library_root() -> Path:
    """`$STYLECAM_WEIGHTS` if set (tests, portable installs), else the repo's `weights/`."""
    return Path(os.environ.get("STYLECAM_WEIGHTS", DEFAULT_ROOT))


def usable_style_name(text: str) -> str:
    """`text` as a valid style name (other characters become '_', leading '_.-' go); '' if none is left."""
    return re.sub(f"[^{NAME_CHARS}]", "_", text).lstrip("_.-")


@dataclass
class Style:
    """One entry of the library (or a loose weights file given by path)."""

    name: str
    display_name: str
    path: Path
    config: GeneratorConfig
    sha256: str = ""
    training: dict = field(default_factory=dict)
    evaluation: dict = field(default_factory=dict)

    def size_bytes(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def to_manifest(self) -> dict:
        return {
            "display_name": self.display_name,
            "file": self.path.name,
            "architecture": self.config.to_dict(),
            "sha256": self.sha256,
            "training": self.training,
            "evaluation": self.evaluation,
        }


class StyleLibrary:
    """Lists, resolves, loads and imports styles under one folder."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_library_root()
        self.manifest_path = self.root / MANIFEST_NAME

    # -- reading -------------------------------------------------------------------------
    def _read_manifest(self) -> dict:
        if not self.manifest_path.exists():
            return {"default": None, "styles": {}}
        try:
            data = json.loads(self.manifest_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise StyleError(
                f"style manifest {self.manifest_path} is not valid JSON ({err}); fix or delete it"
            ) from err
        data.setdefault("styles", {})
        data.setdefault("default", None)
        return data

    def _entry_to_style(self, name: str, entry: dict) -> Style:
        try:
            return Style(
                name=name,
                display_name=entry.get("display_name", name),
                path=self.root / entry["file"],
                config=GeneratorConfig.from_dict(entry["architecture"]),
                sha256=entry.get("sha256", ""),
                training=entry.get("training", {}),
                evaluation=entry.get("evaluation", {}),
            )
        except (KeyError, TypeError) as err:
            raise StyleError(f"style {name!r} in {self.manifest_path} has an incomplete entry (missing {err})") from err

    def list_styles(self) -> list[Style]:
        """Every usable style; a broken entry is skipped with a warning naming its file."""
        styles = []
        for name, entry in self._read_manifest()["styles"].items():
            try:
                style = self._entry_to_style(name, entry)
                check_header(style.path)
            except StyleError as err:
                warnings.warn(f"skipping style {name!r}: {err}", stacklevel=2)
                continue
            styles.append(style)
        return styles

    def names(self) -> list[str]:
        return [s.name for s in self.list_styles()]

    def default_style_name(self) -> str | None:
        manifest = self._read_manifest()
        usable = self.names()
        if manifest["default"] in usable:
            return manifest["default"]
        return usable[0] if usable else None

    def resolve(self, name_or_path: str | Path) -> Style:
        """A library name, or a path to a weights file (used as is, not imported)."""
        return self._resolve(name_or_path)[0]

    def _resolve(self, name_or_path: str | Path) -> tuple[Style, dict[str, torch.Tensor] | None]:
        """The style, plus the tensors when a loose file had to be read to learn its architecture."""
        manifest = self._read_manifest()
        key = str(name_or_path)
        if key in manifest["styles"]:
            return self._entry_to_style(key, manifest["styles"][key]), None
        path = Path(name_or_path)
        if path.suffix in (".safetensors", ".pth", ".pt", ".ckpt") or path.exists():
            state, config = read_generator_state(path)
            return Style(name=path.stem, display_name=path.stem, path=path, config=config), state
        known = ", ".join(manifest["styles"]) or "none yet"
        raise StyleError(
            f"style {key!r} is not in the library ({known}); give a name from `python main.py styles` or a weights file path"
        )

    def load(self, name_or_path: str | Path | Style) -> tuple[nn.Module, Style]:
        """Build the generator for a style on the CPU, in eval mode, checking its sha256."""
        style, state = (name_or_path, None) if isinstance(name_or_path, Style) else self._resolve(name_or_path)
        if state is None:  # a library entry: verify the file before trusting it
            check_header(style.path)
            if style.sha256 and sha256_of(style.path) != style.sha256:
                raise StyleError(
                    f"weights file {style.path} does not match its manifest checksum (corrupt or replaced); "
                    "re-import the style"
                )
            state = clean_state_dict(read_weights(style.path)[0])
        return build_generator(state, style.config, style.path), style

    # -- writing -------------------------------------------------------------------------
    def import_style(
        self,
        source: Path,
        name: str,
        display_name: str | None = None,
        make_default: bool = False,
    ) -> Style:
        """Validate any supported weights file (ours or a reference .pth) and add it as safetensors."""
        model, config = load_generator_file(Path(source))
        return self.add_style(
            model, config, name, display_name, training={"imported_from": Path(source).name}, make_default=make_default
        )

    def add_style(
        self,
        model: nn.Module,
        config: GeneratorConfig,
        name: str,
        display_name: str | None = None,
        training: dict | None = None,
        evaluation: dict | None = None,
        make_default: bool = False,
    ) -> Style:
        """Write a generator into the library (safetensors + manifest entry with provenance)."""
        if not STYLE_NAME.fullmatch(name):
            raise StyleError(f"style name {name!r} is not usable; use letters, digits, '-', '_' or '.'")
        target = self.root / f"{name}.safetensors"
        save_generator(target, model, config)
        style = Style(
            name=name,
            display_name=display_name or name.replace("_", " ").title(),
            path=target,
            config=config,
            sha256=sha256_of(target),
            training=training or {},
            evaluation=evaluation or {},
        )
        manifest = self._read_manifest()
        manifest["styles"][name] = style.to_manifest()
        if make_default or not manifest["default"]:
            manifest["default"] = name
        self._write_manifest(manifest)
        return style

    def update_entry(self, name: str, **fields: dict) -> None:
        """Merge fields (e.g. `evaluation=`) into an existing entry."""
        manifest = self._read_manifest()
        if name not in manifest["styles"]:
            raise StyleError(f"style {name!r} is not in the library {self.manifest_path}")
        for key, value in fields.items():
            manifest["styles"][name].setdefault(key, {}).update(value)
        self._write_manifest(manifest)

    def set_default(self, name: str) -> None:
        manifest = self._read_manifest()
        if name not in manifest["styles"]:
            raise StyleError(f"style {name!r} is not in the library {self.manifest_path}")
        manifest["default"] = name
        self._write_manifest(manifest)

    def remove_style(self, name: str) -> None:
        """Drop a style's entry and its weights file; the default moves to the first style left."""
        manifest = self._read_manifest()
        entry = manifest["styles"].pop(name, None)
        if entry is None:
            known = ", ".join(manifest["styles"]) or "none"
            raise StyleError(f"style {name!r} is not in the library {self.manifest_path} ({known})")
        if manifest["default"] == name:
            manifest["default"] = next(iter(manifest["styles"]), None)
        # The manifest goes first: a crash in between leaves a stray file, never an entry without one.
        self._write_manifest(manifest)
        if not any(e.get("file") == entry.get("file") for e in manifest["styles"].values()):
            (self.root / entry["file"]).unlink(missing_ok=True)

    def _write_manifest(self, manifest: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=MANIFEST_NAME, suffix=".tmp", dir=self.root)
        with os.fdopen(fd, "w") as f:
            json.dump(manifest, f, indent=2, sort_keys=False)
            f.write("\n")
        make_readable(tmp)
        os.replace(tmp, self.manifest_path)


def check_header(path: Path) -> None:
    """Cheap validity check for listings: the file exists and its header parses."""
    if not path.is_file():
        raise StyleError(f"weights file {path} is missing")
    if path.suffix == ".safetensors":
        read_header = _safetensors_header(path)
        if read_header is None:
            raise StyleError(f"weights file {path} is corrupt or truncated")


def _safetensors_header(path: Path) -> dict | None:
    size = path.stat().st_size
    with path.open("rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            return None
        n = int.from_bytes(raw, "little")
        if n <= 0 or 8 + n > size:
            return None
        try:
            header = json.loads(f.read(n))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
    return header if 8 + n + max(ends, default=0) <= size else None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
