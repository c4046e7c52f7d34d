"""Layer contracts over the whole import graph.

- The model side never imports the GUI: models/ and train/ import with PySide6 and app blocked.
- The static graph of app/, models/, train/, benchmarks/ and main.py (every `import`, including
  those inside functions, plus `importlib.import_module("literal")`) has no cycles; models never
  reaches app, train or benchmarks; train never reaches app; nothing main.py can reach imports
  benchmarks (`main.py bench` runs `benchmarks.bench` as a program, see main.cmd_bench); models and
  train never import PySide6.

Imports under `if TYPE_CHECKING:` never run, so they count for the layer rules but not for cycles.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = ("app", "models", "train", "benchmarks")
FIRST_PARTY = {*PACKAGES, "main"}

BLOCKER = """
import importlib.abc, pkgutil, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in ('PySide6', 'app'):
            raise ImportError(f'{name} imported from the model side')
sys.meta_path.insert(0, Block())
import models, importlib
for pkg in ('models', 'train'):
    try:
        root = importlib.import_module(pkg)
    except ModuleNotFoundError:
        continue
    for info in pkgutil.walk_packages(root.__path__, pkg + '.'):
        if not info.name.endswith('__main__'):
            importlib.import_module(info.name)
print('ok')
"""


def test_models_and_train_do_not_import_qt() -> None:
    run = subprocess.run([sys.executable, "-c", BLOCKER], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


# -- the static import graph -----------------------------------------------------------------


def module_files(repo: Path = REPO) -> dict[str, Path]:
    """Module name -> file, for every first-party module (a package is its __init__)."""
    files = {"main": repo / "main.py"}
    for package in PACKAGES:
        for path in sorted((repo / package).rglob("*.py")):
            parts = path.relative_to(repo).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            files[".".join(parts)] = path
    return files


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Line numbers inside `if TYPE_CHECKING:` blocks."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imported_names(module: str, path: Path) -> Iterable[tuple[str, int, bool]]:
    """(imported module name, line, runs at runtime) for every import in the file, at any depth."""
    tree = ast.parse(path.read_text(), str(path))
    typing_only = _type_checking_lines(tree)
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # `from pkg import name`: resolved to pkg.name when that is a module, else to pkg
            names = [f"{prefix}.{alias.name}" for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and ast.unparse(node.func) in ("importlib.import_module", "import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        for name in names:
            yield name, node.lineno, node.lineno not in typing_only


def import_graph(repo: Path = REPO) -> tuple[dict[str, set[str]], dict[str, set[str]], dict[str, set[str]]]:
    """(runtime edges, all edges, third-party top-level packages) per first-party module.

    `from pkg import name` is an edge to `pkg.name` when that is a module, else to `pkg`."""
    files = module_files(repo)
    runtime: dict[str, set[str]] = {m: set() for m in files}
    every: dict[str, set[str]] = {m: set() for m in files}
    external: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        for name, _line, at_runtime in imported_names(module, path):
            if name.split(".")[0] not in FIRST_PARTY:
                external[module].add(name.split(".")[0])
                continue
            target = name
            while target and target not in files:  # `from models.x import func` -> models.x
                target = target.rpartition(".")[0]
            if not target or target == module:
                continue
            every[module].add(target)
            if at_runtime:
                runtime[module].add(target)
    return runtime, every, external


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def reachable(graph: dict[str, set[str]], start: str) -> dict[str, list[str]]:
    """Every module reachable from `start`, with one import chain that reaches it."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for succ in sorted(graph.get(node, ())):
            if succ not in paths:
                paths[succ] = [*paths[node], succ]
                queue.append(succ)
    return paths


def layer(module: str) -> str:
    return module.split(".")[0]


GRAPH = import_graph()


def test_the_graph_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    """The parser itself: imports inside functions, `from . import`, import_module, TYPE_CHECKING."""
    (tmp_path / "models").mkdir()
    (tmp_path / "app").mkdir()
    for package in PACKAGES:
        (tmp_path / package).mkdir(exist_ok=True)
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "main.py").write_text("def cmd():\n    import importlib\n    importlib.import_module('app.b')\n")
    (tmp_path / "models" / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from app import b\ndef f():\n    from . import c\n"
    )
    (tmp_path / "models" / "c.py").write_text("from models.a import f\nimport PySide6.QtCore\n")
    (tmp_path / "app" / "b.py").write_text("")
    runtime, every, external = import_graph(tmp_path)
    assert runtime["main"] == {"app.b"}
    assert runtime["models.a"] == {"models.c"} and every["models.a"] == {"models.c", "app.b"}
    assert runtime["models.c"] == {"models.a"} and external["models.c"] >= {"PySide6"}
    assert cycles(runtime) == [["models.a", "models.c"]]


# Cycles that are there on purpose, each with its reason; everything else is a failure.
ALLOWED_CYCLES: dict[tuple[str, ...], str] = {}


def test_no_import_cycles() -> None:
    runtime, _, _ = GRAPH
    found = {tuple(c) for c in cycles(runtime)}
    unexpected = sorted(found - set(ALLOWED_CYCLES))
    assert not unexpected, f"modules that import each other (move what they share into a third module): {unexpected}"
    stale = sorted(set(ALLOWED_CYCLES) - found)
    assert not stale, f"allowed cycles that are gone: drop them from ALLOWED_CYCLES: {stale}"


@pytest.mark.parametrize(
    ("source_layer", "forbidden"),
    [("models", {"app", "train", "benchmarks"}), ("train", {"app", "benchmarks"}), ("app", {"benchmarks", "train"})],
)
def test_layers_import_only_downwards(source_layer: str, forbidden: set[str]) -> None:
    _, every, _ = GRAPH
    wrong = {
        f"{module} -> {target}"
        for module, targets in every.items()
        if layer(module) == source_layer
        for target in targets
        if layer(target) in forbidden
    }
    assert not wrong, f"{source_layer} must not import {sorted(forbidden)}: {sorted(wrong)}"


def test_main_never_reaches_benchmarks() -> None:
    _, every, _ = GRAPH
    chains = [" -> ".join(chain) for module, chain in reachable(every, "main").items() if layer(module) == "benchmarks"]
    assert not chains, chains


def test_models_and_train_never_import_pyside() -> None:
    _, _, external = GRAPH
    wrong = sorted(m for m, names in external.items() if layer(m) in ("models", "train") and "PySide6" in names)
    assert not wrong, wrong


# -- inside train/: four folders and the commands on top ---------------------------------------

TRAIN_FOLDERS = ("trainers", "losses", "evaluation", "stages")
# train/'s own top level: the package, `python -m train`, the recipe replay, make-style, and the commands the
# README names, each a shim that runs the module where its code lives
TRAIN_COMMANDS = {
    "train.evaluate": "train.evaluation.evaluate",
    "train.cut": "train.trainers.cut",
    "train.palette": "train.stages.palette",
    "train.colour_guard": "train.stages.colour_guard",
    "train.distill": "train.trainers.distill",
}
TRAIN_TOP = {"train", "train.__main__", "train.recipe", "train.make_style", *TRAIN_COMMANDS}


def test_every_train_module_lives_in_a_folder_that_says_what_it_holds() -> None:
    _, every, _ = GRAPH
    loose = sorted(
        m for m in every if layer(m) == "train" and m not in TRAIN_TOP and m.split(".")[1] not in TRAIN_FOLDERS
    )
    assert not loose, f"put these in one of train/{{{','.join(TRAIN_FOLDERS)}}}/: {loose}"


def test_loss_terms_import_nothing_else_of_train() -> None:
    _, every, _ = GRAPH
    wrong = sorted(
        f"{m} -> {t}"
        for m, targets in every.items()
        if m.startswith("train.losses.")
        for t in targets
        if layer(t) == "train" and not t.startswith("train.losses")
    )
    assert not wrong, f"the loss terms are train's bottom layer: {wrong}"


def test_train_folders_never_import_the_commands_on_top() -> None:
    _, every, _ = GRAPH
    wrong = sorted(
        f"{m} -> {t}"
        for m, targets in every.items()
        if layer(m) == "train" and m not in TRAIN_TOP
        for t in targets
        if t in TRAIN_TOP
    )
    assert not wrong, f"import the module where the code lives, not its command: {wrong}"


@pytest.mark.parametrize("command", sorted(TRAIN_COMMANDS))
def test_a_command_shim_only_runs_its_module(command: str) -> None:
    files = module_files()
    imported = {name for name, _, _ in imported_names(command, files[command]) if layer(name) in FIRST_PARTY}
    assert imported == {f"{TRAIN_COMMANDS[command]}.main"}, imported
    tree = ast.parse(files[command].read_text())
    defined = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef | ast.Assign)]
    assert not defined, f"{command} holds code; it belongs in {TRAIN_COMMANDS[command]}"
