"""Measure the generators and the inference engine on this machine; prints tables (and JSON).

For each generator (the `lite`, `lite_hq` and `resnet_9blocks` presets and every library style), on
each device (CPU, and CUDA when present), at each processing size, the median and p95 ms/frame of
- naive: what a reference-code user writes per frame (PIL -> torchvision transforms -> fp32
  NCHW forward -> numpy -> PIL), the "before" column (CPU only);
- eager: the PyTorch fp32 forward alone on a ready NCHW tensor (CPU only: the floor before the
  OpenVINO backend);
- bare: the engine's backend alone on a ready frame at the processing size (the floor now);
- engine: `InferenceEngine.process`, a BGR uint8 frame in and out;
with the ratios engine/bare (overhead) and naive/engine (speed-up). The variants of one size are
measured interleaved (round-robin) in one process, so load from other users of the machine hits
them alike: compare ratios, not absolute numbers, across runs. Also: time to load a style
(export + compile + warm-up), peak memory (RSS high-water mark per size, reset between sizes
where Linux allows; `torch.cuda.max_memory_allocated` on CUDA), how cost grows with pixel count,
and end-to-end latency / dropped frames through the app's threads when
`benchmarks.e2e_latency.measure_e2e` is available.

Suites (`--suite`): `generators` (the above, the default), `costs` (what the stabilizer, the
palette map and the colour guard each add per frame on a style: benchmarks/stage_costs.py), `all`.
"""

from __future__ import annotations

import os
import sys

# On a shared CPU, OpenMP threads that spin at barriers stall whenever another process holds a
# core: PyTorch's 2-thread forward measured 10-30x slower here (849 ms vs 69 ms with 1 thread).
# Passive waiting keeps the PyTorch columns honest; it must be set before torch is imported.
OMP_POLICY_SET_HERE = "torch" not in sys.modules and "OMP_WAIT_POLICY" not in os.environ
if OMP_POLICY_SET_HERE:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from models.backends import FrameRunner, OpenVinoRunner, TorchRunner, openvino_runner  # noqa: E402
from models.engine import FrameModel, InferenceEngine  # noqa: E402
from models.inference_norm import use_inference_norms  # noqa: E402
from models.registry import PRESETS, create_generator  # noqa: E402

SIZES = {"256x256": (256, 256), "640x360": (360, 640), "1280x720": (720, 1280)}


def parse_size(label: str) -> tuple[int, int]:
    """'640x360' (width x height) -> (360, 640); sides must be multiples of 4."""
    try:
        w, h = (int(v) for v in label.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {label!r} is not WIDTHxHEIGHT, e.g. 640x360") from None
    if w <= 0 or h <= 0 or w % 4 or h % 4:
        raise argparse.ArgumentTypeError(f"size {label!r}: both sides must be positive multiples of 4")
    return h, w


DEFAULT_GENERATORS = ["lite", "lite_hq", "resnet_9blocks"]
VIDEOS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "videos"


# -- measurement ------------------------------------------------------------------------------
def interleaved(
    fns: dict[str, Callable[[], object]],
    repeats: dict[str, int],
    warmup: dict[str, int],
    sync: Callable[[], None] = lambda: None,
) -> dict[str, dict[str, float]]:
    """Time each function `repeats[name]` times, round-robin, so all see the same machine load."""
    for name, fn in fns.items():
        for _ in range(warmup.get(name, 1)):
            fn()
    sync()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(max(repeats.values())):
        for name, fn in fns.items():
            if i < repeats[name]:
                start = time.perf_counter()
                fn()
                sync()
                samples[name].append((time.perf_counter() - start) * 1000.0)
    return {name: summary(s) for name, s in samples.items()}


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "median": float(np.median(samples)),
        "p95": float(np.percentile(samples, 95)),
        "n": len(samples),
    }


def gmacs_at_256(model: torch.nn.Module) -> float:
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, 256, 256))
    return counter.get_total_flops() / 2e9


class PeakRss:
    """Peak resident memory (MiB) of this process, resettable on Linux (no psutil needed)."""

    @staticmethod
    def reset() -> bool:
        try:
            Path("/proc/self/clear_refs").write_text("5")  # 5: reset the VmHWM high-water mark
            return True
        except OSError:
            return False

    @staticmethod
    def mib() -> float:
        with contextlib.suppress(OSError):
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


# -- the paths being compared -------------------------------------------------------------------
def naive_step(model: torch.nn.Module, frame_bgr: np.ndarray, h: int, w: int) -> np.ndarray:
    """The per-frame path of a reference-code user, kept deliberately ordinary."""
    from PIL import Image
    from torchvision import transforms

    tf = transforms.Compose(
        [transforms.Resize((h, w)), transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.5,) * 3)]
    )
    image = Image.fromarray(frame_bgr[:, :, ::-1])
    with torch.no_grad():
        out = model(tf(image).unsqueeze(0))[0]
    arr = ((out.permute(1, 2, 0).numpy() + 1) * 127.5).clip(0, 255).astype(np.uint8)
    return np.asarray(Image.fromarray(arr).resize(image.size))[:, :, ::-1]


def eager_forward(generator: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """The PyTorch CPU fp32 path the engine used before OpenVINO (channels_last, group norms)."""
    model = FrameModel(use_inference_norms(_copy(generator))).eval().requires_grad_(False)
    model = model.to(memory_format=torch.channels_last)

    def forward(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return model(x)

    return forward


def _copy(module: torch.nn.Module) -> torch.nn.Module:
    import copy

    return copy.deepcopy(module)


def relative_cost(gmacs_256: float, h: int, w: int) -> float:
    """Frame cost relative to the lite generator at 256x256 (0.58 GMACs); ResNet-9 at 720p is ~1200."""
    return max(1.0, gmacs_256 / 0.58) * (h * w) / (256 * 256)


def repeats_for(cost: float, base: int, device: str) -> tuple[int, int]:
    """(repeats, slow-path repeats): fewer where one frame takes long (ResNet-9 at 720p on a CPU)."""
    if device == "cuda" or cost <= 20:
        return base, max(2, base // 3)
    if cost <= 200:
        return max(3, base // 4), 2
    return 2, 1


# -- one generator on one device ------------------------------------------------------------------
def bench_generator(
    name: str,
    generator: torch.nn.Module,
    sizes: list[str],
    device: str,
    repeats: int,
    naive: bool,
    e2e_seconds: float,
    with_bf16: bool = True,
) -> dict:
    generator = generator.eval()
    result: dict = {
        "generator": name,
        "params": sum(p.numel() for p in generator.parameters()),
        "gmacs_256": gmacs_at_256(generator),
        "sizes": {},
    }
    # fp32, so the engine column stays comparable with earlier runs; bf16 has its own column
    engine = InferenceEngine(device=device, size=None, precision="fp32")
    first = SIZES[sizes[0]]
    start = time.perf_counter()
    engine.set_style(generator, name, warmup_shape=first)
    result["load_s"] = time.perf_counter() - start  # export/prepare + compile + warm-up
    cuda = engine.device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    result["device"] = engine.describe()
    result["backend"] = type(engine._active.runner).__name__
    runner = engine._active.runner
    eager = eager_forward(generator) if not cuda and result["backend"] != "TorchRunner" else None
    bf16: FrameRunner | None = None
    int8: FrameRunner | None = None
    rng = np.random.default_rng(0)
    for label in sizes:
        h, w = SIZES[label]
        frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        n, n_slow = repeats_for(relative_cost(result["gmacs_256"], h, w), repeats, engine.device.type)
        print(f"  {name} {engine.device.type} {label}: {n} frames per column", file=sys.stderr, flush=True)
        fns: dict[str, Callable[[], object]] = {
            "bare": lambda f=frame: runner(f),  # OpenVINO: the compiled graph alone, uint8 in and out
            "engine": lambda f=frame: engine.process(f),
        }
        if isinstance(runner, TorchRunner):  # PyTorch: the forward alone on a ready device tensor
            x_dev = (torch.rand(1, 3, h, w, device=engine.device) * 255).to(engine.dtype)
            x_dev = x_dev.contiguous(memory_format=torch.channels_last)
            fns["bare"] = lambda t=x_dev: bare_forward(runner, t)
        counts = {"bare": n, "engine": n}
        if eager is not None:
            x = (torch.rand(1, 3, h, w) * 255).contiguous(memory_format=torch.channels_last)
            fns["eager"], counts["eager"] = (lambda t=x: eager(t)), n_slow if n_slow == 1 else n
        if with_bf16 and isinstance(runner, OpenVinoRunner) and n_slow > 1:  # bf16 only where frames are cheap
            bf16 = bf16 or openvino_runner(generator, threads=runner.threads, bf16=True)  # as the engine: a guard after
            fns["bf16"], counts["bf16"] = (lambda f=frame, r=bf16: r(f)), n
            int8 = int8 or openvino_runner(generator, threads=runner.threads, int8=True)
            fns["int8"], counts["int8"] = (lambda f=frame, r=int8: r(f)), n
        if naive and not cuda:
            fns["naive"] = lambda f=frame, h=h, w=w: naive_step(generator, f, h, w)
            counts["naive"] = n_slow
        if cuda:
            torch.cuda.reset_peak_memory_stats(engine.device)
        rss_reset = PeakRss.reset()
        # slow rows: only the backend's first call (it compiles the new shape) is a warm-up
        warmup = {k: (1 if k == "bare" or n_slow > 1 else 0) for k in fns}
        row: dict = interleaved(fns, counts, warmup, sync=sync)
        row["peak_rss_mib"] = PeakRss.mib()
        row["peak_rss_is_per_size"] = rss_reset
        if cuda:
            row["cuda_max_allocated_mib"] = torch.cuda.max_memory_allocated(engine.device) / 2**20
        row["engine_over_bare"] = row["engine"]["median"] / row["bare"]["median"]
        row["engine_fps"] = 1000.0 / row["engine"]["median"]
        if "naive" in row:
            row["naive_over_engine"] = row["naive"]["median"] / row["engine"]["median"]
        if "eager" in row:
            row["eager_over_bare"] = row["eager"]["median"] / row["bare"]["median"]
        if "bf16" in row:
            photo = natural_frame(h, w)
            row["bf16_psnr_db"] = psnr(engine.process(photo), bf16(photo))
            row["int8_psnr_db"] = psnr(engine.process(photo), int8(photo))
        if cuda:  # fp16 (the engine) vs an fp32 run of the same frame
            photo = natural_frame(h, w)
            model32 = FrameModel(use_inference_norms(_copy(generator))).eval().requires_grad_(False)
            model32 = model32.to(engine.device, torch.float32, memory_format=torch.channels_last)
            fp32 = TorchRunner(model32, engine.device, torch.float32)  # fp32 weights, not fp16 ones cast back
            row["fp16_psnr_db"] = psnr(engine.process(photo), fp32(photo))
            del fp32, model32
        if e2e_seconds > 0:
            row["e2e"] = end_to_end(generator, engine.device.type, (h, w), e2e_seconds)
        result["sizes"][label] = row
    costs = [relative_cost(result["gmacs_256"], *SIZES[label]) for label in sizes]
    if len(sizes) > 1 and (cuda or max(costs) <= 20):
        result["scaling"] = scaling(runner, eager, sizes, engine, max(4, repeats // 2), sync)
    return result


def scaling(
    runner: FrameRunner,
    eager: Callable[[torch.Tensor], torch.Tensor] | None,
    sizes: list[str],
    engine: InferenceEngine,
    repeats: int,
    sync: Callable[[], None],
) -> dict[str, dict[str, float]]:
    """Median ms of the backend (and eager) per size, all sizes round-robin in one loop, so a change
    of machine load between sizes does not bend the pixel-count curve."""
    fns: dict[str, Callable[[], object]] = {}
    rng = np.random.default_rng(1)
    for label in sizes:
        h, w = SIZES[label]
        frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        if isinstance(runner, TorchRunner):
            x = (torch.rand(1, 3, h, w, device=engine.device) * 255).to(engine.dtype)
            x = x.contiguous(memory_format=torch.channels_last)
            fns[f"bare {label}"] = lambda t=x: bare_forward(runner, t)
        else:
            fns[f"bare {label}"] = lambda f=frame: runner(f)
        if eager is not None:
            x = (torch.rand(1, 3, h, w) * 255).contiguous(memory_format=torch.channels_last)
            fns[f"eager {label}"] = lambda t=x: eager(t)
    timed = interleaved(fns, dict.fromkeys(fns, repeats), dict.fromkeys(fns, 1), sync=sync)
    return {name: {"median": t["median"]} for name, t in timed.items()}


def bare_forward(runner: TorchRunner, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return runner.model(x)


def natural_frame(h: int, w: int) -> np.ndarray:
    """A real photo (shared/data) resized to h x w when available, else a smooth synthetic scene."""
    import cv2

    photos = sorted((VIDEOS.parent / "monet2photo" / "testA").glob("*.jpg"))
    image = cv2.imread(str(photos[0])) if photos else None
    if image is not None:
        return cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) * 255 // (h + w)], axis=-1).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10.0 * float(np.log10(255.0**2 / max(mse, 1e-10)))


def end_to_end(generator: torch.nn.Module, device: str, size: tuple[int, int], seconds: float) -> dict:
    """Capture -> inference -> display through the app's threads, via benchmarks/e2e_latency.py.

    A 1280x720 30 fps clip is played at its native rate; the engine's processing size is the
    short side of `size` (so "256x256" processes 256x456 frames of the 16:9 clip).
    """
    try:
        from benchmarks.e2e_latency import measure_e2e
    except ImportError:
        return {"available": False, "note": "not available: benchmarks/e2e_latency.py (measure_e2e) is missing"}
    try:
        result = dict(measure_e2e(generator, min(size), test_clip(), seconds, device=device))
    except Exception as err:  # a broken optional measurement must not lose the whole table
        return {"available": False, "note": f"measure_e2e failed: {type(err).__name__}: {err}"}
    result["available"] = True
    return result


def test_clip(height: int = 720, width: int = 1280) -> Path:
    """A real 720p clip from shared/data/videos when present, else a synthetic 30 fps one."""
    import cv2

    if VIDEOS.is_dir():
        for clip in sorted(VIDEOS.glob("*.mkv")) + sorted(VIDEOS.glob("*.mp4")):
            cap = cv2.VideoCapture(str(clip))
            big_enough = cap.get(cv2.CAP_PROP_FRAME_HEIGHT) >= height
            cap.release()
            if big_enough:
                return clip
    from models.video_io import H264Writer

    path = Path(tempfile.gettempdir()) / f"stylecam_bench_{width}x{height}.mp4"
    if not path.exists():
        yy, xx = np.mgrid[0:height, 0:width]
        with H264Writer(path, width, height, 30) as writer:
            for i in range(300):
                b = (xx + 4 * i) % 256
                frame = np.stack([b, yy * 255 // height, (xx + yy) * 255 // (height + width)], axis=-1)
                writer.write(frame.astype(np.uint8), i / 30)
    return path


# -- reporting ------------------------------------------------------------------------------------
def _ms(row: dict, key: str) -> str:
    return f"{row[key]['median']:.1f}" if key in row else "-"


def _p95(row: dict, key: str) -> str:
    return f"{row[key]['p95']:.1f}" if key in row else "-"


def print_table(results: list[dict]) -> None:
    print(
        f"\n{'generator':<24}{'GMACs@256':>10} {'device':<7}{'size':<9}{'naive':>8}{'p95':>8}{'eager':>8}"
        f"{'bare':>8}{'p95':>7}{'engine':>8}{'p95':>7}{'eng/bare':>9}{'fps':>7}{'naive/eng':>10}{'RSS MiB':>8}"
        f"{'bf16':>7}{'PSNR':>6}{'int8':>7}{'PSNR':>6}"
    )
    for r in results:
        dev = "cuda" if r["device"].startswith("CUDA") else "cpu"
        for label, row in r["sizes"].items():
            speedup = f"{row['naive_over_engine']:.2f}x" if "naive_over_engine" in row else "-"
            mem = row.get("cuda_max_allocated_mib", row["peak_rss_mib"])
            low_psnr = row.get("bf16_psnr_db", row.get("fp16_psnr_db"))
            bf16_psnr = f"{low_psnr:.0f}" if low_psnr is not None else "-"
            int8_psnr = f"{row['int8_psnr_db']:.0f}" if "int8_psnr_db" in row else "-"
            print(
                f"{r['generator']:<24}{r['gmacs_256']:>10.2f} {dev:<7}{label:<9}{_ms(row, 'naive'):>8}"
                f"{_p95(row, 'naive'):>8}{_ms(row, 'eager'):>8}{_ms(row, 'bare'):>8}{_p95(row, 'bare'):>7}"
                f"{_ms(row, 'engine'):>8}{_p95(row, 'engine'):>7}{row['engine_over_bare']:>8.2f}x"
                f"{row['engine_fps']:>7.1f}{speedup:>10}{mem:>8.0f}{_ms(row, 'bf16'):>7}{bf16_psnr:>6}"
                f"{_ms(row, 'int8'):>7}{int8_psnr:>6}"
            )
    print("ms/frame: median and p95. naive = PIL/torchvision fp32 reference path; eager = PyTorch fp32 forward")
    print("(the engine's CPU path before OpenVINO); bare = the engine's backend alone; engine = frame in, frame out;")
    print(
        "bf16 = the OpenVINO backend in bfloat16 (the app's default where the CPU has it), PSNR dB vs fp32 on a photo;"
    )
    print("int8 = the same in int8 (--precision int8, models/quantize.py).")
    for r in results:
        print(f"{r['generator']}: {r['device']}, backend {r['backend']}, style load {r['load_s']:.1f} s")
    print_scaling(results)
    print_e2e(results)


def print_scaling(results: list[dict]) -> None:
    """Time ratio over pixel ratio against the smallest size: 1.0 = linear in pixel count."""
    print(
        "\nscaling with pixel count (vs the first size; time/pixels 1.00 = linear). 'bare'/'eager' come from one"
        "\nround-robin loop over all sizes (load-robust); rows without it use the per-size engine medians."
        f"\n{'generator':<24}{'device':<7}{'size':<9}{'pixels':>8}{'backend':>9}{'time/pixels':>12}{'eager':>8}"
        f"{'time/pixels':>12}{'us/kpixel':>10}"
    )
    for r in results:
        dev = "cuda" if r["device"].startswith("CUDA") else "cpu"
        labels = list(r["sizes"])
        if not labels:
            continue
        sc = r.get("scaling")
        if sc:
            backend = {label: sc[f"bare {label}"]["median"] for label in labels}
            eager = {label: sc[f"eager {label}"]["median"] for label in labels if f"eager {label}" in sc}
        else:
            backend = {label: r["sizes"][label]["engine"]["median"] for label in labels}
            eager = {label: row["eager"]["median"] for label, row in r["sizes"].items() if "eager" in row}
        h0, w0 = SIZES[labels[0]]
        for label in labels:
            h, w = SIZES[label]
            px = (h * w) / (h0 * w0)
            ratio = backend[label] / backend[labels[0]]
            if label in eager and labels[0] in eager:
                e = eager[label] / eager[labels[0]]
                eager_s = f"{e:>7.2f}x{e / px:>12.2f}"
            else:
                eager_s = f"{'-':>8}{'-':>12}"
            per_kpx = backend[label] * 1000.0 / (h * w / 1000.0)
            print(
                f"{r['generator']:<24}{dev:<7}{label:<9}{px:>7.2f}x{ratio:>8.2f}x{ratio / px:>12.2f}{eager_s}"
                f"{per_kpx:>10.1f}"
            )


def print_e2e(results: list[dict]) -> None:
    rows = [(r, label, row["e2e"]) for r in results for label, row in r["sizes"].items() if "e2e" in row]
    if not rows:
        return
    print("\nend to end through the app's threads: 1280x720 30 fps clip -> capture -> inference -> painted view")
    print(
        f"{'generator':<24}{'size':<9}{'proc. short side':>17}{'display fps':>12}{'latency ms':>11}{'p95':>7}"
        f"{'inference ms':>13}{'dropped':>9}{'captured':>9}"
    )
    for r, label, e2e in rows:
        if not e2e.get("available"):
            print(f"{r['generator']:<24}{label:<9}{e2e.get('note', 'not available')}")
            continue
        lat, inf = e2e["latency_ms"], e2e["inference_ms"]
        print(
            f"{r['generator']:<24}{label:<9}{e2e['size']!s:>17}{e2e['display_fps']:>12.1f}{lat['median']:>11.1f}"
            f"{lat['p95']:>7.1f}{inf['median']:>13.1f}{e2e['frames_dropped']:>9}{e2e['frames_captured']:>9}"
        )


# -- command line ---------------------------------------------------------------------------------
def library_styles() -> list[tuple[str, torch.nn.Module]]:
    """Every shipped style in the library (weights/), loaded on the CPU; [] when there are none."""
    from models.style_library import StyleLibrary

    try:
        library = StyleLibrary()
        names = library.names()
    except Exception as err:
        print(f"style library not readable ({type(err).__name__}: {err}); benchmarking presets only")
        return []
    styles = []
    for name in names:
        generator, _ = library.load(name)
        styles.append((f"style:{name}", generator))
    return styles


def devices(requested: str) -> list[str]:
    if requested == "auto":
        return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    return [requested]


def main(argv: list[str] | None = None) -> int:
    # main.py sets argv[0] to "main.py bench" or "stylecam bench": the command the user typed
    prog = sys.argv[0] if sys.argv[0].endswith(" bench") else "python -m benchmarks.bench"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--generators", nargs="+", default=DEFAULT_GENERATORS, choices=sorted(PRESETS))
    parser.add_argument("--no-styles", action="store_true", help="skip the styles in the library (weights/)")
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), help="WIDTHxHEIGHT processing sizes")
    parser.add_argument(
        "--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto: CPU, and CUDA if present"
    )
    parser.add_argument("--repeats", type=int, default=20, help="frames per measurement (fewer for slow ones)")
    parser.add_argument("--no-naive", action="store_true", help="skip the slow naive reference path")
    parser.add_argument("--e2e-seconds", type=float, default=5.0, help="seconds of video per end-to-end run (0: skip)")
    parser.add_argument("--quick", action="store_true", help="3 repeats, no bf16 or end-to-end run: a smoke test")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument(
        "--suite", default="generators", choices=["generators", "costs", "all"],
        help="generators: the tables above; costs: each optional stage's cost per frame on --costs-style",
    )  # fmt: skip
    parser.add_argument("--costs-style", help="style for the costs suite (default: the library's default)")
    parser.add_argument(
        "--costs-sizes", type=int, nargs="+", default=[256], help="processing short sides for the costs suite"
    )
    args = parser.parse_args(argv)
    for label in args.sizes:
        try:
            SIZES.setdefault(label, parse_size(label))
        except argparse.ArgumentTypeError as err:
            parser.error(str(err))
    if args.quick:
        args.repeats, args.e2e_seconds = 3, 0.0
    results, costs = [], None
    if args.suite in ("generators", "all"):
        generators = [(name, create_generator(name)) for name in args.generators]
        if not args.no_styles:
            generators += library_styles()
        for device in devices(args.device):
            for name, generator in generators:
                e2e = args.e2e_seconds if "resnet" not in name or device == "cuda" else 0.0  # ResNet-9 on CPU: ~2 fps
                results.append(
                    bench_generator(
                        name, generator, args.sizes, device, args.repeats, not args.no_naive, e2e, not args.quick
                    )
                )
        print_table(results)
    if args.suite in ("costs", "all"):
        from benchmarks.stage_costs import print_costs, stage_costs

        rounds, per_round = (1, 4) if args.quick else (6, 20)
        costs = stage_costs(args.costs_style, args.costs_sizes, rounds, per_round)
        print_costs(costs)
    print(
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}"
        + (" (set by the bench)" if OMP_POLICY_SET_HERE else "")
    )
    print(f"machine: {cpu_name()}, {torch.get_num_threads()} threads; torch {torch.__version__}")
    if args.json:
        meta = {
            "torch": torch.__version__,
            "machine": platform.machine(),
            "cpu": cpu_name(),
            "threads": torch.get_num_threads(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "argv": argv,
        }
        with open(args.json, "w") as f:
            json.dump({**meta, "results": results, "costs": costs}, f, indent=2)
    return 0


def cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    raise SystemExit(main())
