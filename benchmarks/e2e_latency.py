"""End-to-end numbers of the live path: the app's real capture and inference workers reading a
video file at its native rate, and the app's video view drawing the result (offscreen when there
is no display).

    python -m benchmarks.e2e_latency [--video FILE] [--size 256 [320 ...]] [--rounds 1] [--seconds 20] [--ngf 16 --blocks 9]
    python -m benchmarks.e2e_latency --style vangogh --app --size 256 auto --precision fp32 bf16 \
        [--source-size 1280x720] [--detail 0.2 --faces] [--model auto|full|fast]

Several sizes are measured in turn, `--rounds` times over, in one process (so a noisy machine
hits them alike); with the temporal stabilizer on, as the app runs (`--no-stabilize`: off).

`--app` measures through the app's own controller instead (`measure_app`): capture, the style
loader, inference and the video view, so `--size auto` runs the Auto size as the app does (timed
at start, then stepping with the frames) and the result lists the sizes the shown frames were
processed at. Every `--size` x `--precision` pair is measured in turn. `--source-size WxH` scales
the clip's frames to that size on the capture thread (a 1280x720 camera from a 640x480 clip; the
scaling, about 1 ms, stands in for a camera's decoding).

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

from models.precision import PRECISIONS

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


def scaled_video_source(path: Path, width: int, height: int):
    """A looping video file source whose frames are scaled to `width` x `height` as they are read."""
    import cv2

    from app.sources import VideoFileSource

    class ScaledVideoSource(VideoFileSource):
        def read(self, stop):
            frame = super().read(stop)
            return None if frame is None else cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)

        def describe(self) -> str:
            return f"{super().describe()} scaled to {width}x{height}"

    return ScaledVideoSource(path)


def measure_app(
    style: str,
    size: int | str,
    video_path: Path | str,
    seconds: float,
    *,
    precision: str = "auto",
    device: str = "auto",
    source_size: tuple[int, int] | None = None,
    stabilize: bool = True,
    detail: float | None = None,
    faces: bool | None = None,
    model: str = "auto",
    warmup_s: float = 3.0,
    ready_timeout_s: float = 60.0,
) -> dict:
    """The app's controller (capture, style loader, inference) and video view on a clip: waits
    until the style is up and the loader idle (its Auto timing and the other styles' preparation
    done), then `warmup_s`, then measures `seconds`. `size` "auto" is the app's Auto size; `model`
    the app's View > Model choice (app/auto_size.py MODELS)."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from collections import Counter

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app.auto_size import AUTO_SIZE
    from app.controller import Controller
    from app.frames import ProcessedFrame
    from app.sources import VideoFileSource
    from app.video_view import VideoView
    from models.engine import InferenceEngine
    from models.style_library import StyleLibrary

    app = QApplication.instance() or QApplication(sys.argv[:1])
    source = scaled_video_source(Path(video_path), *source_size) if source_size else VideoFileSource(Path(video_path))
    library = StyleLibrary()
    controller = Controller(
        lambda: InferenceEngine(device=device, stabilize=stabilize, precision=precision, live=True), library, (640, 480)
    )
    controller.set_stabilize(stabilize)
    if detail is not None:
        controller.set_detail(detail)
    if faces is not None:
        controller.set_faces(faces)
    controller.set_model(model)  # before the size, as the window does: Auto size times this model
    controller.set_size(AUTO_SIZE if size == "auto" else int(size) or None)
    view = VideoView()
    view.resize(960, 540)
    view.show()
    samples: list[tuple[float, float, int | None]] = []  # (latency ms, inference ms, size) after warm-up
    measuring: dict = {"on": False}

    def on_frame(frame: ProcessedFrame) -> None:
        view.show_frame(frame)
        view.repaint()  # paint now, like an idle GUI thread would, so "shown" means painted

    def on_shown(frame: ProcessedFrame, shown_at: float) -> None:
        if measuring["on"] and frame.style_name:
            samples.append(((shown_at - frame.captured_at) * 1000.0, frame.inference_ms, controller.size))

    controller.frame_ready.connect(on_frame)
    view.frame_shown.connect(on_shown)
    started = time.perf_counter()
    controller.start(source, style)

    def wait(until, timeout_s: float) -> None:
        deadline = time.perf_counter() + timeout_s
        while not until() and time.perf_counter() < deadline:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.01)

    wait(lambda: bool(controller.engine.style_name), ready_timeout_s)
    wait(lambda: not controller.loader.busy, ready_timeout_s)
    ready_s = time.perf_counter() - started
    start_size = controller.size
    calibration = dict(controller.loader.calibration)

    def start_measuring() -> None:
        measuring.update(
            on=True,
            t0=time.perf_counter(),
            captured0=controller.capture.frames_captured,
            dropped0=controller.dropped_frames,
        )

    loop = QEventLoop()
    QTimer.singleShot(int(warmup_s * 1000), start_measuring)
    QTimer.singleShot(int((warmup_s + seconds) * 1000), loop.quit)
    loop.exec()
    elapsed = time.perf_counter() - measuring["t0"]
    frames_captured = controller.capture.frames_captured - measuring["captured0"]
    dropped = controller.dropped_frames - measuring["dropped0"]
    engine = controller.engine
    result = {
        "video": str(video_path),
        "source": source.describe(),
        "style": style,
        "size": size,
        "precision": precision,
        "engine": engine.describe(),
        "model": model,
        "fast_twin": engine.fast_twin,
        "stabilize": stabilize,
        "detail": getattr(engine, "detail", None),
        "faces": getattr(engine, "faces", None),
        "ready_s": round(ready_s, 1),
        "start_size": start_size,
        "calibration_ms": {k: round(v, 1) for k, v in calibration.items()},
        "seconds": round(elapsed, 2),
        "display_fps": len(samples) / elapsed if elapsed > 0 else 0.0,
        "inference_ms": _percentiles([s[1] for s in samples if s[1] > 0]),
        "latency_ms": _percentiles([s[0] for s in samples]),
        "sizes_shown": dict(sorted(Counter(s[2] for s in samples).items(), key=lambda kv: kv[0] or 0)),
        "size_changes": controller.inference.auto.changes if controller.inference.auto else 0,
        "frames_captured": frames_captured,
        "frames_shown": len(samples),
        "frames_dropped": dropped,
    }
    stop_start = time.perf_counter()
    controller.shutdown(5.0)
    result["stop_ms"] = (time.perf_counter() - stop_start) * 1000.0
    view.close()
    app.processEvents()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument(
        "--size", nargs="+", default=["256"], help="processing size(s) (short side), 0 = native; auto with --app"
    )
    parser.add_argument("--app", action="store_true", help="through the app's controller (needed for --size auto)")
    parser.add_argument("--precision", nargs="+", default=["auto"], choices=list(PRECISIONS))
    parser.add_argument("--source-size", help="scale the clip's frames to WxH, e.g. 1280x720")
    parser.add_argument("--detail", type=float, help="--app: the Detail knob (default: the controller's)")
    parser.add_argument(
        "--runs",
        nargs="+",
        metavar="SIZE,PRECISION[,DETAIL[,MODEL]]",
        help="--app: these combinations in turn instead of every --size x --precision, e.g. 256,fp32,0 "
        "auto,bf16,0.2 auto,fp32,0.05,full",
    )
    parser.add_argument("--model", default="auto", choices=["auto", "full", "fast"], help="--app: View > Model")
    parser.add_argument("--faces", action=argparse.BooleanOptionalAction, help="--app: face-aware detail")
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
    if args.app:
        if not args.style:
            print("error: --app needs --style NAME (a library style)", file=sys.stderr)
            return 1
        source_size = tuple(int(v) for v in args.source_size.lower().split("x")) if args.source_size else None
        runs = [(size, precision, args.detail, args.model) for size in args.size for precision in args.precision]
        if args.runs:
            runs = [parse_run(run, args.detail, args.model) for run in args.runs]
        results = []
        for _ in range(args.rounds):
            for size, precision, detail, model in runs:
                result = measure_app(
                    args.style,
                    size if size == "auto" else int(size),
                    args.video,
                    args.seconds,
                    precision=precision,
                    device=args.device,
                    source_size=source_size,
                    stabilize=args.stabilize,
                    detail=detail,
                    faces=args.faces,
                    model=model,
                )
                results.append(result)
                if not args.json:
                    _print_app_result(result)
        if args.json:
            print(json.dumps(results if len(results) > 1 else results[0], indent=2))
        return 0
    if "auto" in args.size:
        print("error: --size auto runs through the app: add --app", file=sys.stderr)
        return 1
    args.size = [int(size) for size in args.size]
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


def parse_run(run: str, detail: float | None, model: str) -> tuple[str, str, float | None, str]:
    """ "SIZE,PRECISION[,DETAIL[,MODEL]]" -> (size, precision, detail, model), defaults filled in."""
    parts = run.split(",")
    given_detail = float(parts[2]) if len(parts) > 2 and parts[2] else detail
    return parts[0], parts[1], given_detail, parts[3] if len(parts) > 3 else model


def _print_app_result(r: dict) -> None:
    steady = "stabilized" if r["stabilize"] else "not stabilized"
    runs = "its fast twin" if r["fast_twin"] else "its full model"
    print(f"{r['style']} size {r['size']} precision {r['precision']} on {r['engine']}, {steady}, detail {r['detail']}")
    print(f"  model        {r['model']}: {runs}")
    print(f"  source       {r['source']}; measured {r['seconds']} s after {r['ready_s']} s to get ready")
    if r["calibration_ms"]:
        timed = ", ".join(f"{k}: {v:.1f}" for k, v in r["calibration_ms"].items())
        print(f"  auto timing  ms per frame by size {timed} -> {r['start_size']}")
    print(f"  sizes shown  {r['sizes_shown']} ({r['size_changes']} changes)")
    print(f"  display      {r['display_fps']:.1f} fps")
    print(f"  inference    median {r['inference_ms']['median']:.1f} ms, p95 {r['inference_ms']['p95']:.1f} ms")
    print(
        f"  latency      median {r['latency_ms']['median']:.1f} ms, p95 {r['latency_ms']['p95']:.1f} ms (capture -> painted)"
    )
    print(f"  dropped      {r['frames_dropped']} of {r['frames_captured']} captured (newest frame wins)")


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
