"""`train` (like `models`) never imports PySide6 or `app`: importing every module with PySide6
blocked must work."""

from __future__ import annotations

import subprocess
import sys

from .conftest import REPO

CODE = """
import sys
sys.modules['PySide6'] = None
import train.trainers.cyclegan, train.trainers.distill, train.evaluation.evaluate, train.stages.export, train.evaluation.fid, train.__main__
assert not any(m == 'app' or m.startswith(('app.', 'PySide6')) for m in sys.modules if sys.modules[m] is not None)
"""


def test_train_imports_without_gui() -> None:
    proc = subprocess.run([sys.executable, "-c", CODE], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
