"""The style library: a `manifest.json` plus one safetensors file per style, in two folders.

- The shipped styles, `weights/` beside the code: read-only. No command writes there.
- The user's styles (imports, training exports, colour-guard switches, evaluation figures) in the
  platform's application-data folder (`user_library_root`; `$STYLECAM_USER_STYLES` overrides it).
  They are listed with the shipped ones; a user style with a shipped style's name shadows it
  (`Style.shadows_shipped`), and removing it brings the shipped one back.

`$STYLECAM_WEIGHTS=/dir` (or an explicit folder, `StyleLibrary(root)`) selects one library that
is both read and written, with no shipped layer: tests, portable installs, and maintainers
writing a new shipped style on purpose (`python -m train.stages.export RUN --name N --library weights`).

A manifest entry records what a person needs to trust a style: display name, architecture and
hyper-parameters, training data and steps, evaluation figures and the file's sha256. A style
given as a path (our safetensors or a reference CycleGAN `.pth`) works without being imported.

Damage stays local: a broken weights file skips its style; a user manifest that is not valid
JSON, or has an entry that names no file, no architecture or a file outside its folder, is set
aside as `manifest.json.broken-TIME` (the good entries written back) with one warning naming it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
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

SHIPPED_ROOT = Path(__file__).resolve().parent.parent / "weights"
DEFAULT_ROOT = SHIPPED_ROOT  # the name older code and tests use for the shipped library
MANIFEST_NAME = "manifest.json"
SHIPPED, USER = "shipped", "user"  # Style.origin in the layered library
# A style name is a file name on every OS and a CLI argument: letters and digits first, then those or "_.-".
NAME_CHARS = "A-Za-z0-9_.-"
STYLE_NAME = re.compile(f"[A-Za-z0-9][{NAME_CHARS}]*")


def entry_twin_file(entry: object) -> object:
    """The file a manifest entry's fast twin names (None when it has none)."""
    twin = entry.get("fast_twin") if isinstance(entry, dict) else None
    return twin.get("file") if isinstance(twin, dict) else None


def user_library_root(environ: dict[str, str] | None = None, platform: str = sys.platform) -> Path:
    """Where the user's styles live: `$STYLECAM_USER_STYLES`, else the platform's per-user
    application-data folder (what Qt's AppDataLocation gives, computed without Qt):
    Linux `$XDG_DATA_HOME/stylecam/styles` (default `~/.local/share/...`), macOS
    `~/Library/Application Support/StyleCam/styles`, Windows `%APPDATA%/StyleCam/styles`."""
    env = os.environ if environ is None else environ
    if env.get("STYLECAM_USER_STYLES"):
        return Path(env["STYLECAM_USER_STYLES"]).expanduser()
    if platform == "win32":
        appdata = env.get("APPDATA")
        return (Path(appdata) if appdata else Path.home() / "AppData" / "Roaming") / "StyleCam" / "styles"
    if platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "StyleCam" / "styles"
    xdg = env.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"  # XDG: relative = unset
    return base / "stylecam" / "styles"


# make-style (the dialog and the command alike) trains a style from at least this many paintings
MIN_PAINTINGS = 20


def make_style_runs_root(environ: dict[str, str] | None = None, platform: str = sys.platform) -> Path:
    """<user data>/make_style: make-style's run folders, beside the user style library (never in
    the source tree); the command writes there and the app looks there for runs to resume."""
    return user_library_root(environ, platform).parent / "make_style"


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
    origin: str = ""  # SHIPPED or USER in the layered library; "" for a single library or a loose file
    shadows_shipped: bool = False  # a user style with the name of a shipped one, which it hides
    fast_twin: dict = field(default_factory=dict)  # its manifest entry's "fast_twin": a smaller generator

    @property
    def has_fast_twin(self) -> bool:
        return bool(self.fast_twin)

    @property
    def read_only(self) -> bool:
        return self.origin == SHIPPED

    def where(self) -> str:
        """Which library it comes from, for listings: "shipped", "user", "user, shadows shipped"."""
        return f"{self.origin}, shadows shipped" if self.shadows_shipped else self.origin

    def size_bytes(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def to_manifest(self) -> dict:
        entry = {
            "display_name": self.display_name,
            "file": self.path.name,
            "architecture": self.config.to_dict(),
            "sha256": self.sha256,
            "training": self.training,
            "evaluation": self.evaluation,
        }
        return {**entry, "fast_twin": self.fast_twin} if self.fast_twin else entry


class StyleLibrary:
    """Lists, resolves, loads and writes styles: writes go to `root`; `shipped_root`, when set,
    is a read-only library listed beneath it.

    `StyleLibrary()` is the app's library: the user library over the shipped `weights/`, or the
    one folder `$STYLECAM_WEIGHTS` names. `StyleLibrary(folder)` is that one folder alone.
    """

    def __init__(self, root: Path | str | None = None, shipped: Path | str | None = None) -> None:
        if root is None and os.environ.get("STYLECAM_WEIGHTS"):
            root = Path(os.environ["STYLECAM_WEIGHTS"])
        elif root is None:
            root, shipped = user_library_root(), SHIPPED_ROOT if shipped is None else shipped
        self.root = Path(root)
        self.shipped_root = Path(shipped) if shipped is not None else None
        self.manifest_path = self.root / MANIFEST_NAME

    @property
    def layered(self) -> bool:
        """True when the user library is listed over a read-only shipped one."""
        return self.shipped_root is not None

    def describe(self) -> str:
        """One line naming the folders, for listings and messages."""
        if self.shipped_root is None:
            return f"library: {self.root}"
        return f"shipped (read-only): {self.shipped_root}; yours: {self.root}"

    # -- reading -------------------------------------------------------------------------
    def _read_manifest(self, root: Path | None = None) -> dict:
        """One folder's manifest, with only its usable entries.

        Damage stays local: a manifest that is not valid JSON, or an entry that is incomplete or
        whose file lies outside its folder, is reported in one warning line naming the file. In
        the writable library the manifest is then set aside (renamed `manifest.json.broken-TIME`,
        never deleted) and, when only some entries were bad, written again with the good ones;
        the shipped manifest is only read, its bad entries skipped."""
        root = self.root if root is None else root
        path = root / MANIFEST_NAME
        if not path.exists():
            return {"default": None, "styles": {}}
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            return self._set_aside(path, root, f"is not valid JSON ({err})", None)
        if not isinstance(data, dict) or not isinstance(data.get("styles", {}), dict):
            return self._set_aside(path, root, "is not a style manifest (no 'styles' table)", None)
        data.setdefault("styles", {})
        data.setdefault("default", None)
        bad = {name: why for name, entry in data["styles"].items() if (why := entry_problem(root, entry))}
        if not bad:
            return data
        good = {**data, "styles": {n: e for n, e in data["styles"].items() if n not in bad}}
        if good["default"] in bad:
            good["default"] = None
        what = "; ".join(f"style {name!r} {why}" for name, why in bad.items())
        return self._set_aside(path, root, f"has bad entries, refused: {what}", good)

    def _set_aside(self, path: Path, root: Path, problem: str, good: dict | None) -> dict:
        """Warn once, in one line, about a damaged manifest, and keep the user's data: the file is
        renamed aside (copied when the good entries are written back); `good` or an empty
        manifest is what this read returns."""
        empty = {"default": None, "styles": {}}
        if root != self.root:  # the shipped library is read-only: skip what is broken, change nothing
            warnings.warn(f"style manifest {path} {problem}; those styles are skipped", stacklevel=4)
            return good or empty
        aside = _aside_path(path)
        try:
            os.replace(path, aside)
            if good is not None:
                self._write_manifest(good)
        except OSError as err:  # a read-only folder: skip what is broken, for this run
            warnings.warn(f"style manifest {path} {problem}; could not set it aside ({err})", stacklevel=4)
            return good or empty
        kept = "the good entries are kept" if good is not None else "fix it and rename it back to list its styles"
        warnings.warn(f"style manifest {path} {problem}; set aside as {aside.name}, {kept}", stacklevel=4)
        return good or empty

    def _shipped_manifest(self) -> dict:
        return self._read_manifest(self.shipped_root) if self.shipped_root else {"default": None, "styles": {}}

    def _origin(self, root: Path) -> str:
        if self.shipped_root is None:
            return ""
        return SHIPPED if root == self.shipped_root else USER

    def _entry_to_style(self, name: str, entry: dict, root: Path | None = None) -> Style:
        root = self.root if root is None else root
        problem = entry_problem(root, entry)
        if problem:
            raise StyleError(f"style {name!r} in {root / MANIFEST_NAME} {problem}")
        try:
            return Style(
                name=name,
                display_name=entry.get("display_name", name),
                path=root / entry["file"],
                config=GeneratorConfig.from_dict(entry["architecture"]),
                sha256=entry.get("sha256", ""),
                training=entry.get("training", {}),
                evaluation=entry.get("evaluation", {}),
                origin=self._origin(root),
                fast_twin=entry.get("fast_twin") or {},
            )
        except (KeyError, TypeError) as err:
            raise StyleError(
                f"style {name!r} in {root / MANIFEST_NAME} has an incomplete entry (missing {err})"
            ) from err

    def _usable(self, root: Path, manifest: dict, shadowing: set[str] = frozenset()) -> dict[str, Style | None]:
        """name -> Style for one folder's entries; None (with a warning naming the file) when broken."""
        styles: dict[str, Style | None] = {}
        for name, entry in manifest["styles"].items():
            try:
                style = self._entry_to_style(name, entry, root)
                check_header(style.path)
            except StyleError as err:
                hides = " (it hides the shipped style of that name; remove-style brings that back)"
                warnings.warn(f"skipping style {name!r}: {err}{hides if name in shadowing else ''}", stacklevel=3)
                styles[name] = None
                continue
            styles[name] = style
        return styles

    def list_styles(self) -> list[Style]:
        """Every usable style, the shipped ones first in their order (a user style with a shipped
        name takes its place), then the user's; a broken entry is skipped with a warning naming
        its file (a broken user style hides the shipped one it shadows: loading would fail)."""
        if self.shipped_root is None:
            return [s for s in self._usable(self.root, self._read_manifest()).values() if s is not None]
        shipped_manifest = self._shipped_manifest()
        # a damaged user manifest is set aside by the read: the shipped styles still list
        user = self._usable(self.root, self._read_manifest(), set(shipped_manifest["styles"]))
        styles = []
        for name, style in self._usable(self.shipped_root, shipped_manifest).items():
            if name in user:
                style = user.pop(name)
                if style is not None:
                    style.shadows_shipped = True
            if style is not None:
                styles.append(style)
        return styles + [s for s in user.values() if s is not None]

    def names(self) -> list[str]:
        return [s.name for s in self.list_styles()]

    def default_style_name(self) -> str | None:
        """The user library's default if it is usable, else the shipped default, else the first style."""
        usable = self.names()
        candidates = [self._read_manifest()["default"], self._shipped_manifest()["default"]]
        return next((n for n in candidates if n in usable), usable[0] if usable else None)

    def resolve(self, name_or_path: str | Path) -> Style:
        """A library name, or a path to a weights file (used as is, not imported)."""
        return self._resolve(name_or_path)[0]

    def _find(self, name: str) -> Style | None:
        """The entry a name means: the user library's, else the shipped one (flagged when shadowed)."""
        user = self._read_manifest()["styles"]
        shipped = self._shipped_manifest()["styles"]
        if name in user:
            style = self._entry_to_style(name, user[name])
            style.shadows_shipped = name in shipped
            return style
        if name in shipped:
            return self._entry_to_style(name, shipped[name], self.shipped_root)
        return None

    def _resolve(self, name_or_path: str | Path) -> tuple[Style, dict[str, torch.Tensor] | None]:
        """The style, plus the tensors when a loose file had to be read to learn its architecture."""
        key = str(name_or_path)
        style = self._find(key)
        if style is not None:
            return style, None
        path = Path(name_or_path)
        if path.suffix in (".safetensors", ".pth", ".pt", ".ckpt") or path.exists():
            state, config = read_generator_state(path)
            return Style(name=path.stem, display_name=path.stem, path=path, config=config), state
        known = ", ".join(dict.fromkeys([*self._shipped_manifest()["styles"], *self._read_manifest()["styles"]]))
        raise StyleError(
            f"style {key!r} is not in the library ({known or 'none yet'}); "
            "give a name from `python main.py styles` or a weights file path"
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

    def fast_twin_style(self, style: Style) -> Style | None:
        """The style's fast twin (a `lite_fast` generator distilled from it, train/trainers/distill.py)
        as a Style of the same name, or None when it has none or its entry is broken (warned)."""
        if not style.fast_twin:
            return None
        root = style.path.parent
        problem = entry_problem(root, style.fast_twin)
        if problem is None and not (root / style.fast_twin["file"]).is_file():
            problem = f"names a missing file ({style.fast_twin['file']})"
        if problem:
            warnings.warn(f"style {style.name!r}: its fast twin {problem}; using the full model", stacklevel=2)
            return None
        twin = style.fast_twin
        return Style(
            name=style.name,
            display_name=style.display_name,
            path=root / twin["file"],
            config=GeneratorConfig.from_dict(twin["architecture"]),
            sha256=twin.get("sha256", ""),
            training=twin.get("training", {}),
            evaluation=twin.get("evaluation", {}),
            origin=style.origin,
        )

    # -- writing (to `root` only: the shipped library is never written) ------------------
    def add_fast_twin(
        self,
        name: str,
        model: nn.Module,
        config: GeneratorConfig,
        training: dict | None = None,
        evaluation: dict | None = None,
    ) -> Style:
        """Write `model` as the fast twin of style `name` (`NAME_fast.safetensors` beside it, and a
        "fast_twin" table in its entry); a shipped style gets a user copy that carries it."""
        manifest = self._user_entry(name) if self.layered else self._read_manifest()
        if name not in manifest["styles"]:
            raise StyleError(f"style {name!r} is not in the library {self.manifest_path}")
        target = self.root / f"{name}_fast.safetensors"
        save_generator(target, model, config)
        manifest["styles"][name]["fast_twin"] = {
            "file": target.name,
            "architecture": config.to_dict(),
            "sha256": sha256_of(target),
            "training": training or {},
            "evaluation": evaluation or {},
        }
        self._write_manifest(manifest)
        return self.fast_twin_style(self._find(name))

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
        """Write a generator into the (user) library: safetensors + manifest entry with provenance.
        A shipped style's name gives a user style that shadows it; the shipped files stay as they are."""
        if not STYLE_NAME.fullmatch(name):
            raise StyleError(f"style name {name!r} is not usable; use letters, digits, '-', '_' or '.'")
        manifest = self._read_manifest()  # before writing anything: a broken manifest is not overwritten
        target = self.root / f"{name}.safetensors"
        self.root.mkdir(parents=True, exist_ok=True)
        save_generator(target, model, config)
        style = Style(
            name=name,
            display_name=display_name or name.replace("_", " ").title(),
            path=target,
            config=config,
            sha256=sha256_of(target),
            training=training or {},
            evaluation=evaluation or {},
            origin=self._origin(self.root),
            shadows_shipped=name in self._shipped_manifest()["styles"],
        )
        replaced = manifest["styles"].get(name)
        manifest["styles"][name] = style.to_manifest()
        # an empty single library takes its first style as default; the layered one keeps the shipped default
        if make_default or not (manifest["default"] or self._shipped_manifest()["default"]):
            manifest["default"] = name
        self._write_manifest(manifest)
        # a new generator under an old name is not its old twin's teacher: the twin goes with the entry
        self._delete_unnamed_files(manifest, [entry_twin_file(replaced)])
        return style

    def _delete_unnamed_files(self, manifest: dict, files: list[object]) -> None:
        """Delete those of `files` (names in this library's folder) that no entry of the written
        `manifest` names any more, as its weights or its twin's."""
        entries = [e for e in manifest["styles"].values() if isinstance(e, dict)]
        named = {e.get("file") for e in entries} | {entry_twin_file(e) for e in entries}
        root = self.root.resolve()
        for file in files:
            if isinstance(file, str) and file not in named and (root / file).resolve().parent == root:
                (root / file).unlink(missing_ok=True)

    def _user_entry(self, name: str) -> dict:
        """The manifest with `name` in the user library, copying a shipped style there first."""
        manifest = self._read_manifest()
        if name in manifest["styles"]:
            return manifest
        shipped = self._shipped_manifest()["styles"].get(name)
        if shipped is None:
            raise StyleError(f"style {name!r} is not in the library {self.manifest_path}")
        # the user copy shadows the shipped style: same bytes (same checksum), its own file
        entry = {**json.loads(json.dumps(shipped)), "file": self._copy_in(shipped["file"], f"{name}.safetensors")}
        twin = entry.get("fast_twin")
        # a broken twin is copied as it is: the copy warns as the shipped one does
        if self._twin_file_usable(twin):
            twin["file"] = self._copy_in(twin["file"], f"{name}_fast.safetensors")
        manifest["styles"][name] = entry
        return manifest

    def _twin_file_usable(self, twin: object) -> bool:
        if not isinstance(twin, dict) or entry_problem(self.shipped_root, twin) is not None:
            return False
        return (self.shipped_root / twin["file"]).is_file()

    def _copy_in(self, shipped_file: str, name: str) -> str:
        """Copy a shipped weights file into the user library as `name`; returns `name`."""
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.root / name
        fd, tmp = tempfile.mkstemp(prefix=target.name, suffix=".tmp", dir=self.root)
        os.close(fd)
        shutil.copyfile(self.shipped_root / shipped_file, tmp)
        make_readable(tmp)
        os.replace(tmp, target)  # a crash mid-copy leaves no half file under the style's name
        return name

    def update_entry(self, name: str, **fields: dict) -> None:
        """Merge fields (e.g. `evaluation=`) into an existing entry; a shipped style gets a user copy."""
        manifest = self._user_entry(name)
        for key, value in fields.items():
            manifest["styles"][name].setdefault(key, {}).update(value)
        self._write_manifest(manifest)

    def set_default(self, name: str) -> None:
        """Make `name` (a user or shipped style) the default; only the user manifest changes."""
        manifest = self._read_manifest()
        if name not in manifest["styles"] and name not in self._shipped_manifest()["styles"]:
            raise StyleError(f"style {name!r} is not in the library {self.manifest_path}")
        manifest["default"] = name
        self._write_manifest(manifest)

    def remove_style(self, name: str) -> None:
        """Drop a user style's entry and its weights file (a shipped style of that name shows
        again); the default moves to the first style left (layered: back to the shipped default).
        Shipped styles cannot be removed."""
        manifest = self._read_manifest()
        entry = manifest["styles"].pop(name, None)
        if entry is None:
            if name in self._shipped_manifest()["styles"]:
                raise StyleError(
                    f"{name!r} is a shipped style and cannot be removed; shipped styles ({self.shipped_root}) "
                    f"are read-only, only your own styles ({self.root}) can be removed"
                )
            known = ", ".join(manifest["styles"]) or "none"
            raise StyleError(f"style {name!r} is not in the library {self.manifest_path} ({known})")
        if manifest["default"] == name:
            manifest["default"] = None if self.layered else next(iter(manifest["styles"]), None)
        # The manifest goes first: a crash in between leaves a stray file, never an entry without one.
        self._write_manifest(manifest)
        self._delete_unnamed_files(manifest, [entry.get("file"), entry_twin_file(entry)])

    def _write_manifest(self, manifest: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=MANIFEST_NAME, suffix=".tmp", dir=self.root)
        with os.fdopen(fd, "w") as f:
            json.dump(manifest, f, indent=2, sort_keys=False)
            f.write("\n")
        make_readable(tmp)
        os.replace(tmp, self.manifest_path)


def entry_problem(root: Path, entry: object) -> str | None:
    """Why a manifest entry cannot be used, in words, or None: it must be a table naming a
    `file` inside `root` (no `..` or absolute path out of the library) and an `architecture`."""
    if not isinstance(entry, dict):
        return "is not a table"
    file, architecture = entry.get("file"), entry.get("architecture")
    if not isinstance(file, str) or not file:
        return "names no file"
    if not isinstance(architecture, dict):
        return "has no architecture"
    target = (root / file).resolve()
    if not target.is_relative_to(root.resolve()):
        return f"points outside its library folder ({file})"
    try:
        GeneratorConfig.from_dict(architecture)
    except (KeyError, TypeError, ValueError) as err:
        return f"has an unusable architecture ({err})"
    return None


def _aside_path(path: Path) -> Path:
    """`manifest.json.broken-YYYYmmdd-HHMMSS` beside `path`, with a counter if that exists."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside, n = path.with_name(f"{path.name}.broken-{stamp}"), 1
    while aside.exists():
        aside, n = path.with_name(f"{path.name}.broken-{stamp}-{n}"), n + 1
    return aside


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
