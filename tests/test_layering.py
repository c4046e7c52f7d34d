"""The model side never imports the GUI: models/ and train/ import with PySide6 and app blocked."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

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
