"""benchmarks.cuda_fidelity: its comparison runs on real frames through a shipped style, and
without a GPU it stops with a one-line reason instead of a traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks import cuda_fidelity
from models.style_library import StyleLibrary

VIDEO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "videos" / "book.mkv"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message printed where there is no GPU")
def test_without_cuda_it_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cuda_fidelity.main(["--frames", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no CUDA GPU") and "\n" not in err


def test_compare_style_on_a_real_frame() -> None:
    if not VIDEO.is_file():
        pytest.skip(f"needs {VIDEO} (../shared/data beside the checkout)")
    from models.video_io import VideoReader

    with VideoReader(VIDEO) as reader:
        frame = next(iter(reader.frames()))[0]
    library = StyleLibrary()
    name = library.default_style_name()
    row, strip = cuda_fidelity.compare_style(name, [frame], 128, library, device="cpu")
    assert row["style"] == name and row["size"] == 128
    # The CPU default backend against the PyTorch fp32 reference: within a grey level or so.
    assert row["mean_abs_diff"] < 0.5 and row["psnr_db"] > 40
    assert row["cuda_ms_median"] > 0
    h, w = frame.shape[:2]
    assert strip.shape == (h, 3 * w, 3) and strip.dtype == np.uint8
