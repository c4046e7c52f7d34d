"""benchmarks.cuda_fidelity and benchmarks.cuda_engine: they run on real frames through a shipped
style (on the CPU here), and without a GPU they stop with a one-line reason instead of a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from benchmarks import cuda_engine, cuda_fidelity
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


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message printed where there is no GPU")
def test_cuda_engine_without_cuda_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cuda_engine.main(["--frames", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no CUDA GPU") and "\n" not in err


def test_cuda_engine_measures_a_real_stream_on_the_cpu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--device cpu`, the script's smoke test: a short real stream at two camera sizes, every
    kind timed, the picture compared with the CPU PyTorch engine (the same pixels, near enough)."""
    if not VIDEO.is_file():
        pytest.skip(f"needs {VIDEO} (../shared/data beside the checkout)")
    cap = cv2.VideoCapture(str(VIDEO))
    for index in range(4):
        ok, frame = cap.read()
        assert ok
        cv2.imwrite(str(tmp_path / f"{index:02d}.png"), frame)
    cap.release()
    out = tmp_path / "rows.json"
    args = ["--frames", str(tmp_path), "--device", "cpu", "--sources", "320x240", "640x360", "--sizes", "128"]
    assert cuda_engine.main([*args, "--rounds", "1", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [r["source"] for r in rows] == ["320x240", "640x360"]
    for row in rows:
        assert all(row[kind]["median"] > 0 for kind in cuda_engine.KINDS)
        assert row["psnr_vs_cpu_db"]["min"] > 40
    assert "detail0 ms" in capsys.readouterr().out
