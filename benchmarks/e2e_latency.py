"""End-to-end numbers of the live path: the app's real capture and inference workers reading a
video file at its native rate, and the app's video view drawing the result (offscreen when there
is no display).

    python -m benchmarks.e2e_latency [--video FILE] [--size 256 [320 ...]] [--rounds 1] [--seconds 20] [--ngf 16 --blocks 9]

Several sizes are measured in turn, `--rounds` times over, in one process (so a noisy machine
hits them alike); with the temporal stabilizer on, as the app runs (`--no-stabilize`: off).

`measure_e2e` is also called by the performance benchmark. Latency is capture -> painted: from the
moment the source handed over a frame to the end of the paint that showed it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from torch import nn

DEFAULT_VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos" / "book.mkv"


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {"median": float("nan"), "p95": float("nan")}
    return {"median": float(np.median(values)), "p95": float(np.percentile(values, 95))}


def measure_e2e(
    style_generator: nn.Module | None,
    size: int | None,
    video_path: Path | str,
    seconds: float,
    device: str = "auto",
    warmup_s: float = 2.0,
    stabilize: bool = True,
) -> dict:
    """Run capture -> inference -> view for `warmup_s + seconds` and report the measured part.

    Returns display fps, inference ms (median/p95), capture->display latency ms (median/p95),
    frames captured/shown/dropped, and the engine description. `style_generator=None` measures
    the pipeline alone (frames pass through unstylized).
    """
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app.frames import CapturedFrame, LatestSlot, ProcessedFrame
    from app.sources import VideoFileSource
    from app.video_view import VideoView
    from app.workers.capture import CaptureWorker
    from app.workers.inference import InferenceWorker, Knobs
    from models.engine import InferenceEngine
    from models.frames import processing_shape

    app = QApplication.instance() or QApplication(sys.argv[:1])
    source = VideoFileSource(Path(video_path))
    engine = InferenceEngine(device=device, size=size, stabilize=stabilize)
    if style_generator is not None:
        engine.set_style(style_generator, "bench", processing_shape(source.height, source.width, size))
    captured: LatestSlot[CapturedFrame] = LatestSlot()
    processed: LatestSlot[ProcessedFrame] = LatestSlot()
    capture = CaptureWorker(captured)
    knobs = Knobs(strength=1.0, stabilize=stabilize)  # the size is the engine's
    inference = InferenceWorker(engine, captured, processed, knobs)
    view = VideoView()
    view.resize(960, 540)
    view.show()

    samples: list[tuple[float, float]] = []  # (latency ms, inference ms) of frames shown after warm-up
    measuring = {"on": False, "start": 0.0, "captured0": 0, "dropped0": 0}

    def on_ready() -> None:
        frame = processed.take()
        if frame is not None:
            view.show_frame(frame)
            view.repaint()  # paint now, like an idle GUI thread would, so "shown" means painted

    def on_shown(frame: ProcessedFrame, shown_at: float) -> None:
        if measuring["on"]:
            samples.append(((shown_at - frame.captured_at) * 1000.0, frame.inference_ms))

    def start_measuring() -> None:
        measuring.update(
            on=True,
            start=time.perf_counter(),
            captured0=capture.frames_captured,
            dropped0=captured.dropped + processed.dropped,
        )

    inference.frame_ready.connect(on_ready)
    view.frame_shown.connect(on_shown)
    inference.start()
    capture.start()
    capture.request_source(source)
    loop = QEventLoop()
    QTimer.singleShot(int(warmup_s * 1000), start_measuring)
    QTimer.singleShot(int((warmup_s + seconds) * 1000), loop.quit)
    loop.exec()
    elapsed = time.perf_counter() - measuring["start"]
    frames_captured = capture.frames_captured - measuring["captured0"]
    dropped = captured.dropped + processed.dropped - measuring["dropped0"]
    stop_start = time.perf_counter()
    for worker in (capture, inference):
        worker.stop()
    for worker in (capture, inference):
        worker.wait()
    stop_ms = (time.perf_counter() - stop_start) * 1000.0
    view.close()
    app.processEvents()
    latency = [s[0] for s in samples]
    inference_ms = [s[1] for s in samples if s[1] > 0]
    return {
        "video": str(video_path),
        "source": f"{source.width}x{source.height} @ {source.fps:.3g} fps",
        "size": size or "native",
        "stabilize": stabilize,
        "engine": engine.describe(),
        "seconds": round(elapsed, 2),
        "display_fps": len(samples) / elapsed if elapsed > 0 else 0.0,
        "capture_fps": frames_captured / elapsed if elapsed > 0 else 0.0,
        "inference_ms": _percentiles(inference_ms),
        "latency_ms": _percentiles(latency),
        "frames_captured": frames_captured,
        "frames_shown": len(samples),
        "frames_dropped": dropped,
        "stop_ms": stop_ms,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument(
        "--size", type=int, nargs="+", default=[256], help="processing size(s) (short side), 0 = native"
    )
    parser.add_argument("--rounds", type=int, default=1, help="measure every size this many times, in turn")
    parser.add_argument(
        "--no-stabilize", dest="stabilize", action="store_false", help="without the temporal stabilizer"
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--ngf", type=int, default=16)
    parser.add_argument("--blocks", type=int, default=9)
    parser.add_argument("--arch", default="lite")
    parser.add_argument("--style", help="a library style name or weights file instead of an untrained generator")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--json", action="store_true", help="print the result as JSON only")
    args = parser.parse_args(argv)
    if not args.video.is_file():
        print(f"error: video {args.video} not found; pass --video FILE", file=sys.stderr)
        return 1
    if args.style:
        from models.style_library import StyleLibrary

        generator, _ = StyleLibrary().load(args.style)
        label = args.style
    else:
        # speed does not depend on the weights: an untrained generator of the same shape will do
        from models.registry import GeneratorConfig, create_generator

        config = GeneratorConfig(args.arch, ngf=args.ngf, n_blocks=args.blocks)
        generator = create_generator(config).eval()
        label = config.describe()
    results = []
    for _ in range(args.rounds):
        for size in args.size:
            result = measure_e2e(
                generator, size or None, args.video, args.seconds, args.device, stabilize=args.stabilize
            )
            result["style"] = label
            results.append(result)
            if not args.json:
                _print_result(result)
    if args.json:
        print(json.dumps(results if len(results) > 1 else results[0], indent=2))
    return 0


def _print_result(r: dict) -> None:
    steady = "stabilized" if r["stabilize"] else "not stabilized"
    print(f"{r['style']} at {r['size']} on {r['engine']}, {steady}, {r['source']} for {r['seconds']} s")
    print(f"  display      {r['display_fps']:.1f} fps (capture {r['capture_fps']:.1f} fps)")
    print(f"  inference    median {r['inference_ms']['median']:.1f} ms, p95 {r['inference_ms']['p95']:.1f} ms")
    print(
        f"  latency      median {r['latency_ms']['median']:.1f} ms, p95 {r['latency_ms']['p95']:.1f} ms (capture -> painted)"
    )
    print(f"  dropped      {r['frames_dropped']} of {r['frames_captured']} captured (newest frame wins)")
    print(f"  stop+join    {r['stop_ms']:.0f} ms")


if __name__ == "__main__":
    sys.exit(main())
