"""`python -m train.evaluate`: judge a style offline, without internet.

For test photos and real style images it reports, for the stylized photos and for two baselines
(the unstylized photos, and Reinhard mean/std colour transfer in Lab to a style image):
- SWD: sliced Wasserstein distance to the style images on 7x7 Laplacian-pyramid patches, x1e3,
  averaged over levels; ProGAN's per-set normalisation (texture) and a joint one (texture+colour);
- content preservation vs the input photo: SSIM on luma and Sobel edge correlation;
- droplet peak: the largest spike at the generator's instance-norm inputs, in standard deviations
  over the channel (median over photos); droplet blobs sit on spikes of 20-28 (the first CPU
  styles), and the droplet-penalised ones measure 13-16 (see train/losses/spike_penalty.py);
- colour blotch: how much of the stylized image's coarse colour (8x8-pixel blocks) no single
  linear recolouring of the photo explains, mean L1 on a 0-1 scale x100 (train/losses/image_priors.py's
  colour_fit_residual; a grey sky painted green in patches scores high, a palette change 0);
- hue swap: the same with a map that may only change lightness, tint and saturation
  (hue_keep_residual): green fields painted red-brown under a still-blue sky score high;
- stride-locked pattern (hatching, halftone): DFT power at multiples of N/4 over its
  neighbours, median over images (~1-2 for real images; see train/losses/stride_pattern.py), also for
  the real style images as the reference;
and, when both generators exist (`--run`), the cycle reconstruction L1, plus ms/frame through
the app's inference engine, FID when `--inception-weights` points to torchvision Inception-v3
weights on disk (never downloaded), and a sample sheet PNG. `--colour-guard BLOCK` measures a
style with its colour guard at that block size (0: without it), no retraining needed
(models/colour_guard.py).

`--stills DIR` adds figures on a folder of stills laid out as webcam_photos/testA
(train/evaluation/stills.py): face structure (the clips' measure) on the `portrait_*` and `selfie_*`
files, through the app's engine at `--clip-size`, and SWD / SWD+colour of the `room_*` files
against the style images, beside the unstylized rooms and Reinhard, at `--size` as the test split.
Figures go under "stills" in the summary.

`--precision` is the engine's CPU precision for the clips and the stills' faces: fp32 by default,
so that the figures are the generator's and stay comparable with those tabled before the app ran
bf16 ("auto" measures what the app runs). The test split and the rooms always run the generator
in PyTorch fp32. `--json PATH` writes the summary (what the manifest entry would get) to PATH.

`--clips VIDEO...` adds the webcam figures (train/evaluation/webcam_metrics.py): the flicker ratio (warping
error of the stylized clip over the input's; 1 = as steady as the camera) and face structure
(gradient correlation inside Haar face boxes), through the app's engine at `--clip-size` with
its temporal stabilizer on, as the app shows a webcam (`--no-stabilize`: each frame alone), with
reference rows (the input, the processing-size round trip, a sigma-3 blur) and, with
`--face-sheet`, a JPEG of face crops. Without `--photos`, `--clips` measures only those: a
quick look at a run's checkpoint or a library style (book.mkv and sister.mkv at 256 px: 80-125 s
on one CPU thread, about 50 s of it the input's optical flow). Figures go under "webcam" in the
summary (the manifest entry, RUN/evaluation.json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from models.colour_guard import set_colour_guard
from models.engine import InferenceEngine
from models.errors import StyleCamError
from models.precision import PRECISIONS
from models.style_library import StyleLibrary
from train.evaluation.metrics import edge_correlation, reinhard_transfer, ssim_luma, swd, swd_descriptors
from train.evaluation.stills import FACE_KINDS, StillsResult, face_stills, load_rooms, scan_stills
from train.evaluation.webcam_metrics import CLIP_FRAMES, WebcamResult, evaluate_webcam, write_face_sheet
from train.losses.image_priors import colour_fit_residual, hue_keep_residual
from train.losses.spike_penalty import record_norm_peaks
from train.losses.stride_pattern import stride_peak_ratio
from train.stages.run_state import EVALUATION_FILE, read_evaluation, run_generators
from train.trainers.checkpoint import load_checkpoint, run_folder
from train.trainers.data import center_crop, read_rgb, resize_short, scan_folder, to_tensor
from train.trainers.progress import to_uint8_bgr

METHODS = ("stylized", "photos", "reinhard")
METHOD_LABELS = {"stylized": "stylized (model)", "photos": "photos (no style)", "reinhard": "Reinhard Lab transfer"}
SHEET_ROWS = 6


@dataclass(frozen=True)
class ClipSetup:
    """What `--clips` asks for: the webcam figures on these clips through the app's engine."""

    clips: tuple[Path, ...]
    size: int = 256  # the engine's processing size (short side), as in the live view
    frames: int = CLIP_FRAMES  # first frames of each clip
    face_sheet: Path | None = None
    label: str = ""  # the style's name, for the face sheet's title
    stabilize: bool = True  # the engine's temporal stabilizer, as the app runs it (--no-stabilize: off)
    precision: str = "fp32"  # the engine's CPU precision (models.precision; "auto" as the app)


STILLS_SHEET_PAIRS = 8  # faces on a --stills-sheet: the first 4 portraits and 4 selfies with a face


@dataclass(frozen=True)
class StillsSetup:
    """What `--stills` asks for: faces on the portraits and selfies, SWD on the rooms of a folder."""

    folder: Path
    size: int = 256  # the rooms' square crop, as the test split (--size)
    face_size: int = 256  # the processing size for the faces (--clip-size), as the live view
    precision: str = "fp32"  # the engine's, for the faces
    sheet: Path | None = None  # a face sheet of portraits and selfies at webcam scale (--stills-sheet)


@dataclass
class EvalResult:
    """Figures of one evaluation; `summary()` is what goes into the style manifest."""

    photos: int
    style_images: int
    size: int
    swd_levels: dict[str, list[float]] = field(default_factory=dict)
    swd_joint_levels: dict[str, list[float]] = field(default_factory=dict)
    ssim: dict[str, float] = field(default_factory=dict)
    edges: dict[str, float] = field(default_factory=dict)
    grid: dict[str, float] = field(default_factory=dict)
    blotch: dict[str, float] = field(default_factory=dict)
    hue_swap: dict[str, float] = field(default_factory=dict)
    cycle_l1: float | None = None
    norm_peak: float | None = None
    ms_per_frame: float | None = None
    fid: dict[str, float] | None = None
    sheet: str | None = None
    webcam: WebcamResult | None = None  # with --clips; alone (no photo figures) without --photos
    stills: StillsResult | None = None  # with --stills; likewise

    def swd(self, method: str, joint: bool = False) -> float:
        levels = (self.swd_joint_levels if joint else self.swd_levels)[method]
        return float(np.mean(levels))

    def beats_baselines(self) -> bool:
        """Lower SWD than both the unstylized photos and the Reinhard baseline."""
        s = self.swd("stylized")
        return s < self.swd("photos") and s < self.swd("reinhard")

    def summary(self) -> dict:
        out = self._photo_summary() if self.swd_levels else {}
        if self.webcam is not None:
            out["webcam"] = self.webcam.summary()
        if self.stills is not None:
            out["stills"] = self.stills.summary()
        return out

    def _photo_summary(self) -> dict:
        out = {
            "photos": self.photos,
            "style_images": self.style_images,
            "size": self.size,
            "swd": {m: round(self.swd(m), 2) for m in self.swd_levels},
            "swd_joint": {m: round(self.swd(m, joint=True), 2) for m in self.swd_joint_levels},
            "ssim_luma": {m: round(v, 4) for m, v in self.ssim.items()},
            "edge_correlation": {m: round(v, 4) for m, v in self.edges.items()},
            "grid_peak_ratio": {m: round(v, 2) for m, v in self.grid.items()},
            "colour_blotch": {m: round(v, 2) for m, v in self.blotch.items()},
            "hue_swap": {m: round(v, 2) for m, v in self.hue_swap.items()},
            "beats_baselines": self.beats_baselines(),
        }
        if self.cycle_l1 is not None:
            out["cycle_l1"] = round(self.cycle_l1, 4)
        if self.norm_peak is not None:
            out["norm_peak_sigma"] = round(self.norm_peak, 1)
        if self.ms_per_frame is not None:
            out["ms_per_frame_cpu" if not torch.cuda.is_available() else "ms_per_frame"] = round(self.ms_per_frame, 1)
        if self.fid:
            out["fid"] = {m: round(v, 2) for m, v in self.fid.items()}
        return out

    def table(self) -> str:
        parts = [self._photo_table()] if self.swd_levels else []
        if self.webcam is not None:
            parts.append(self.webcam.table())
        if self.stills is not None:
            parts.append(self.stills.table())
        return "\n\n".join(parts)

    def _photo_table(self) -> str:
        head = f"{'method':24s} {'SWD x1e3':>9s} {'SWD+colour':>10s} {'SSIM luma':>9s} {'edge corr':>9s} {'grid':>6s} {'blotch':>6s} {'hue':>6s}"
        if self.fid:
            head += f" {'FID':>8s}"
        lines = [head, "-" * len(head)]
        for m in self.swd_levels:
            line = (
                f"{METHOD_LABELS[m]:24s} {self.swd(m):9.2f} {self.swd(m, True):10.2f} "
                f"{self.ssim.get(m, 1.0):9.3f} {self.edges.get(m, 1.0):9.3f} {self.grid.get(m, float('nan')):6.1f} {self.blotch.get(m, 0.0):6.2f} {self.hue_swap.get(m, 0.0):6.2f}"
            )
            if self.fid:
                line += f" {self.fid.get(m, float('nan')):8.2f}"
            lines.append(line)
        levels = " / ".join(f"{v:.1f}" for v in self.swd_levels["stylized"])
        lines.append(f"stylized SWD per level (fine->coarse): {levels}")
        if "style images" in self.grid:
            reference = self.grid["style images"]
            lines.append(f"grid peak ratio of the real style images: {reference:.1f} (hatched outputs: 31-72)")
        if self.norm_peak is not None:
            lines.append(f"droplet peak at the norm inputs: {self.norm_peak:.1f} sigma (droplets sit on 20-28)")
        if self.cycle_l1 is not None:
            lines.append(f"cycle reconstruction L1 (A->B->A, 0-1 scale): {self.cycle_l1:.4f}")
        if self.ms_per_frame is not None:
            lines.append(f"inference: {self.ms_per_frame:.1f} ms/frame (640x480 at {self.size}px, engine)")
        lines.append(f"images: {self.photos} photos, {self.style_images} style images at {self.size}px")
        lines.append(
            "verdict: "
            + ("beats both baselines on SWD" if self.beats_baselines() else "does NOT beat both baselines on SWD")
        )
        return "\n".join(lines)


def load_images(folder: Path, size: int, max_images: int | None, role: str) -> list[np.ndarray]:
    """RGB uint8 size x size views (short side resized, centre crop) of a folder's images."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scan = scan_folder(folder, 1, role)
    files = scan.files[:max_images] if max_images else scan.files
    return [center_crop(resize_short(read_rgb(p), size), size) for p in files]


@torch.no_grad()
def colour_residuals(photos: list[np.ndarray], images: list[np.ndarray]) -> tuple[float, float]:
    """Colour blotch and hue swap of `images` against their `photos`: the mean colour-fit and
    hue-keep residuals, on a 0-1 scale x100 (each pair converted once for both)."""
    blotch, hue = [], []
    for p, s in zip(photos, images, strict=True):
        photo, image = to_tensor(p).unsqueeze(0), to_tensor(s).unsqueeze(0)
        blotch.append(float(colour_fit_residual(image, photo)))
        hue.append(float(hue_keep_residual(image, photo)))
    return float(np.mean(blotch)) * 50.0, float(np.mean(hue)) * 50.0  # to_tensor's [-1, 1] is twice a 0-1 scale


def swd_by_method(sets: dict[str, list[np.ndarray]], real: object) -> tuple[dict, dict]:
    """SWD and SWD+colour per pyramid level of each named image set against the style images'
    descriptors `real` (swd_descriptors(styles, seed=1)): ({method: levels}, {method: joint levels})."""
    plain, joint = {}, {}
    for method, images in sets.items():
        desc = swd_descriptors(images, seed=2)
        plain[method], joint[method] = swd(desc, real), swd(desc, real, joint=True)
    return plain, joint


def reinhard_set(photos: list[np.ndarray], styles: list[np.ndarray]) -> list[np.ndarray]:
    """Reinhard colour transfer of each photo to a style image, in turn."""
    return [reinhard_transfer(p, styles[i % len(styles)]) for i, p in enumerate(photos)]


@torch.no_grad()
def stylize(generator: nn.Module, images: list[np.ndarray]) -> list[np.ndarray]:
    out = []
    for img in images:
        y = generator(to_tensor(img).unsqueeze(0))
        out.append(to_uint8_bgr(y)[0][..., ::-1].copy())
    return out


def engine_ms_per_frame(generator: nn.Module, size: int, frames: int = 10) -> float:
    engine = InferenceEngine("auto", size=size)
    engine.set_style(generator, "evaluate")
    frame = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    times = []
    for _ in range(frames):
        engine.process(frame)
        times.append(engine.last_inference_ms)
    return statistics.median(times)


def evaluate_generators(
    forward: nn.Module,
    backward: nn.Module | None,
    photos_dir: Path,
    style_dir: Path,
    size: int = 256,
    max_images: int | None = 100,
    sheet: Path | None = None,
    inception_weights: Path | None = None,
    time_engine: bool = True,
    colour_guard: int | None = None,
    clips: ClipSetup | None = None,
    stills: StillsSetup | None = None,
) -> EvalResult:
    """All figures for the A->B generator `forward` (and the B->A `backward` when given);
    `colour_guard` switches `forward`'s guard on at that block size (0 = off; None = as built);
    `clips` adds the webcam figures, `stills` the figures on a folder of stills."""
    forward = forward.eval()
    if colour_guard is not None:
        set_colour_guard(forward, colour_guard)
    photos = load_images(Path(photos_dir), size, max_images, "photos")
    styles = load_images(Path(style_dir), size, max_images, "style images")
    with record_norm_peaks(forward) as peaks:
        stylized = stylize(forward, photos)
    sets = {"stylized": stylized, "photos": photos, "reinhard": reinhard_set(photos, styles)}
    real = swd_descriptors(styles, seed=1)
    result = EvalResult(len(photos), len(styles), size)
    result.norm_peak = statistics.median(peaks) if peaks else None
    result.swd_levels, result.swd_joint_levels = swd_by_method(sets, real)
    for method, images in sets.items():
        if method != "photos":
            result.ssim[method] = float(np.mean([ssim_luma(p, s) for p, s in zip(photos, images, strict=True)]))
            result.edges[method] = float(np.mean([edge_correlation(p, s) for p, s in zip(photos, images, strict=True)]))
            result.blotch[method], result.hue_swap[method] = colour_residuals(photos, images)
        result.grid[method] = stride_peak_ratio(images)
    result.grid["style images"] = stride_peak_ratio(styles)
    recs = None
    if backward is not None:
        recs = stylize(backward.eval(), sets["stylized"])
        result.cycle_l1 = float(
            np.mean([np.abs(r.astype(np.float32) - p).mean() / 255.0 for r, p in zip(recs, photos, strict=True)])
        )
    if time_engine:
        result.ms_per_frame = engine_ms_per_frame(forward, size)
    if inception_weights is not None:
        from train.evaluation.fid import fid_scores

        result.fid = fid_scores(inception_weights, sets, styles)
    if clips is not None:
        result.webcam = webcam_figures(forward, clips)
    if stills is not None:
        result.stills = stills_figures(forward, stills, styles, real)
    if sheet is not None:
        write_sheet(Path(sheet), photos, sets["stylized"], sets["reinhard"], recs, styles)
        result.sheet = str(sheet)
    return result


def webcam_figures(generator: nn.Module, setup: ClipSetup) -> WebcamResult:
    return evaluate_webcam(
        generator,
        setup.clips,
        setup.size,
        setup.frames,
        face_sheet=setup.face_sheet,
        label=setup.label,
        stabilize=setup.stabilize,
        precision=setup.precision,
    )


def stills_figures(
    generator: nn.Module,
    setup: StillsSetup,
    styles: list[np.ndarray] | None = None,
    real: object | None = None,
    style_dir: Path | None = None,
) -> StillsResult:
    """Faces on the folder's portraits and selfies; SWD of its rooms to the style images
    (`styles` at `setup.size`, or loaded from `style_dir`; `real` their descriptors when known)."""
    groups = scan_stills(Path(setup.folder))
    result = StillsResult(str(setup.folder), setup.size, setup.face_size, setup.precision)
    engine = InferenceEngine("auto", size=setup.face_size, precision=setup.precision)
    engine.set_style(generator, "evaluate stills")
    result.precision = engine.precision
    per_kind = STILLS_SHEET_PAIRS // len(FACE_KINDS) if setup.sheet else 0
    for kind in FACE_KINDS:
        if groups[kind]:
            result.faces[kind] = face_stills(
                generator, groups[kind], setup.face_size, engine=engine, sheet_pairs=per_kind
            )
    if setup.sheet:
        pairs = [pair for kind in FACE_KINDS if kind in result.faces for pair in result.faces[kind].pairs]
        title = f"faces at webcam scale, {setup.face_size}px processing: input | stylized"
        write_face_sheet(Path(setup.sheet), pairs, title)
    if groups["room"]:
        if styles is None:
            styles = load_images(Path(style_dir), setup.size, None, "style images")
        real = swd_descriptors(styles, seed=1) if real is None else real
        rooms = load_rooms(groups["room"], setup.size)
        sets = {"stylized": stylize(generator, rooms), "photos": rooms, "reinhard": reinhard_set(rooms, styles)}
        result.swd_levels, result.swd_joint_levels = swd_by_method(sets, real)
        result.rooms, result.style_images = len(rooms), len(styles)
    return result


def evaluate_extras_only(
    generator: nn.Module,
    clips: ClipSetup | None,
    stills: StillsSetup | None = None,
    style_dir: Path | None = None,
    colour_guard: int | None = None,
) -> EvalResult:
    """Only the webcam and/or stills figures (no test photos): a quick check of a style or
    checkpoint; `style_dir` holds the style images for the stills' rooms."""
    generator = generator.eval()
    if colour_guard is not None:
        set_colour_guard(generator, colour_guard)
    result = EvalResult(0, 0, clips.size if clips else stills.size)
    if clips is not None:
        result.webcam = webcam_figures(generator, clips)
    if stills is not None:
        result.stills = stills_figures(generator, stills, style_dir=style_dir)
    return result


def store_webcam_figures(state: dict, run_dir: Path, generator: str, result: EvalResult) -> bool:
    """Add webcam-only (and stills-only) figures to RUN/evaluation.json when that file is this
    checkpoint's (same step and `generator` description), so export ships them too; another's is
    left alone."""
    evaluation = read_evaluation(run_dir)
    if not evaluation or evaluation.get("step") != state["step"] or evaluation.get("generator") != generator:
        return False
    summary = result.summary()
    if "webcam" in summary:
        evaluation["webcam"] = merged_webcam(evaluation.get("webcam"), summary["webcam"])
    if "stills" in summary:
        evaluation["stills"] = summary["stills"]
    (Path(run_dir) / EVALUATION_FILE).write_text(json.dumps(evaluation, indent=2) + "\n")
    return True


# What an evaluation keeps of the webcam figures measured without the stabilizer, beside those with it.
PLAIN_WEBCAM_KEYS = ("clips", "flicker_ratio_median", "face_structure_mean")


def merged_webcam(stored: dict | None, figures: dict) -> dict:
    """The "webcam" block of a stored evaluation with new `figures` in it. Figures with the
    stabilizer (what the app shows) are the block; figures without it go under
    "without_stabilizer", or make the block when nothing stabilized is stored. A measurement of
    one kind never drops the other's."""
    stored = stored or {}
    steady = stored if stored.get("stabilize") else None
    plain = stored.get("without_stabilizer") or (stored if stored.get("stabilize") is False else None)
    if figures["stabilize"]:
        steady = figures
    else:
        plain = figures
    if steady is None:
        return plain
    block = {k: v for k, v in steady.items() if k != "without_stabilizer"}
    if plain is not None:
        block["without_stabilizer"] = {k: plain[k] for k in PLAIN_WEBCAM_KEYS}
    return block


def write_sheet(
    path: Path,
    photos: list[np.ndarray],
    stylized: list[np.ndarray],
    reinhard: list[np.ndarray],
    recs: list[np.ndarray] | None,
    styles: list[np.ndarray],
) -> None:
    """Rows: photo | stylized | Reinhard | (reconstruction); last row: real style images."""
    n = min(SHEET_ROWS, len(photos))
    picks = [i * len(photos) // n for i in range(n)]
    columns = ["photo", "stylized", "Reinhard"] + (["A->B->A"] if recs is not None else [])
    size = photos[0].shape[0]
    rows = []
    for i in picks:
        cells = [photos[i], stylized[i], reinhard[i]] + ([recs[i]] if recs is not None else [])
        rows.append(np.concatenate(cells, axis=1))
    width = rows[0].shape[1]
    header = np.full((28, width, 3), 255, np.uint8)
    for c, label in enumerate(columns):
        cv2.putText(header, label, (c * size + 6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    style_row = np.full((size, width, 3), 255, np.uint8)
    for c in range(min(len(columns), len(styles))):
        style_row[:, c * size : (c + 1) * size] = styles[c * len(styles) // len(columns)]
    label = np.full((28, width, 3), 255, np.uint8)
    cv2.putText(label, "real style images", (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    sheet = np.concatenate([header, *rows, label, style_row], axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))


def run_style_images(state: dict) -> Path | None:
    """The run's DATAROOT/testB, where it exists."""
    root = state["config"].get("dataroot")
    folder = Path(root) / "testB" if root else None
    return folder if folder is not None and folder.is_dir() else None


def evaluate_checkpoint_state(
    state: dict, run_dir: Path, photos: Path | None = None, style_images: Path | None = None, **kwargs: object
) -> EvalResult | None:
    """Evaluate a training checkpoint (default: its dataroot's testA/testB) and write
    RUN/evaluation.json and RUN/evaluation_sheet.png. None when no test folders are known."""
    cfg = state["config"]
    root = Path(cfg["dataroot"]) if cfg.get("dataroot") else None
    photos = photos or (root / "testA" if root and (root / "testA").is_dir() else None)
    style_images = style_images or (root / "testB" if root and (root / "testB").is_dir() else None)
    if photos is None or style_images is None:
        return None
    forward, backward, config = run_generators(state)
    if kwargs.get("colour_guard") is not None:
        config = replace(config, colour_guard=kwargs["colour_guard"])
    kwargs.setdefault("sheet", Path(run_dir) / "evaluation_sheet.png")
    result = evaluate_generators(forward, backward, photos, style_images, **kwargs)
    # step and generator tell export which of the run's checkpoints these figures are for
    summary = {**result.summary(), "step": state["step"], "generator": config.describe(),
               "photos_dir": str(photos), "style_dir": str(style_images)}  # fmt: skip
    (Path(run_dir) / EVALUATION_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--style", help="library style name or weights file")
    which.add_argument("--run", help="training run folder or checkpoint (adds cycle reconstruction)")
    parser.add_argument(
        "--photos", type=Path,
        help="test photos (default: the run's DATAROOT/testA; with --clips or --stills and without --photos: those figures only)",
    )  # fmt: skip
    parser.add_argument("--style-images", type=Path, help="real style images (default: the run's DATAROOT/testB)")
    parser.add_argument("--size", type=int, default=256, help="evaluation resolution (default 256)")
    parser.add_argument("--max-images", type=int, default=100, help="images per folder (default 100)")
    parser.add_argument("--sheet", type=Path, help="sample sheet PNG (default next to the run, or ./NAME_sheet.png)")
    parser.add_argument("--inception-weights", type=Path, help="torchvision inception_v3 weights on disk, for FID")
    parser.add_argument("--library", type=Path, help="style library folder")
    parser.add_argument("--update-library", action="store_true", help="store the figures in the style's entry")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument(
        "--precision", choices=PRECISIONS, default="fp32",
        help="the engine's CPU precision for the clips and the stills' faces (default fp32; auto: as the app runs)",
    )  # fmt: skip
    parser.add_argument(
        "--json", type=Path, metavar="PATH", help="also write the figures (the summary) to PATH as JSON"
    )
    parser.add_argument("--no-timing", action="store_true", help="skip the ms/frame measurement")
    parser.add_argument(
        "--colour-guard", type=int, metavar="BLOCK",
        help="evaluate with the colour guard at BLOCK pixels (0 = off; default: as the style was built)",
    )  # fmt: skip
    webcam = parser.add_argument_group("webcam figures (train/evaluation/webcam_metrics.py)")
    webcam.add_argument("--clips", type=Path, nargs="+", metavar="VIDEO", help="clips for flicker and face figures")
    webcam.add_argument("--clip-size", type=int, default=256, help="the engine's processing size (default 256)")
    webcam.add_argument(
        "--clip-frames", type=int, default=CLIP_FRAMES,
        help=f"first frames of each clip (default {CLIP_FRAMES}; faces on every 6th)",
    )  # fmt: skip
    webcam.add_argument("--face-sheet", type=Path, help="JPEG sheet of face crops from the clips, input | stylized")
    webcam.add_argument(
        "--no-stabilize", action="store_true",
        help="each frame on its own, without the engine's temporal stabilizer (the app runs it by default)",
    )  # fmt: skip
    stills = parser.add_argument_group("stills figures (train/evaluation/stills.py)")
    stills.add_argument(
        "--stills", type=Path, metavar="DIR",
        help="stills laid out as webcam_photos/testA (portrait_*, selfie_* for faces at --clip-size; room_* for SWD "
        "at --size against the style images)",
    )  # fmt: skip
    stills.add_argument(
        "--stills-sheet", type=Path, metavar="JPEG",
        help=f"JPEG sheet of the first {STILLS_SHEET_PAIRS // 2} portraits' and selfies' faces at webcam scale, input | stylized",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    common = {"size": args.size, "max_images": args.max_images, "inception_weights": args.inception_weights,
              "time_engine": not args.no_timing, "colour_guard": args.colour_guard}  # fmt: skip
    try:
        if args.size < 32 or args.size % 4:
            raise StyleCamError(f"--size {args.size} must be a multiple of 4 and at least 32")
        if args.face_sheet and not args.clips:
            raise StyleCamError("--face-sheet needs --clips VIDEO...")
        if args.clips and (args.clip_size < 32 or args.clip_frames < 2):
            raise StyleCamError("--clip-size must be at least 32 and --clip-frames at least 2")
        for clip in args.clips or ():
            if not clip.is_file():
                raise StyleCamError(f"clip {clip} does not exist")
        if args.stills is not None and not args.stills.is_dir():
            raise StyleCamError(f"stills folder {args.stills} does not exist or is not a folder")
        extras_only = bool(args.clips or args.stills) and args.photos is None  # no test-split figures
        setup = (
            ClipSetup(tuple(args.clips), args.clip_size, args.clip_frames, args.face_sheet,
                      stabilize=not args.no_stabilize, precision=args.precision)
            if args.clips else None
        )  # fmt: skip
        stills_setup = (
            StillsSetup(args.stills, args.size, args.clip_size, args.precision, args.stills_sheet)
            if args.stills
            else None
        )
        if stills_setup is not None:
            common["stills"] = stills_setup
        if args.run and extras_only:
            state = load_checkpoint(args.run)
            run_dir = run_folder(args.run)
            if setup is not None:
                setup = replace(setup, label=f"{run_dir.name} step {state['step']}")
            forward, _, config = run_generators(state)
            if args.colour_guard is not None:
                config = replace(config, colour_guard=args.colour_guard)
            style_dir = args.style_images or run_style_images(state)
            if stills_setup is not None and style_dir is None:
                raise StyleCamError("--stills needs the style images: pass --style-images DIR (the run has no testB)")
            result = evaluate_extras_only(forward, setup, stills_setup, style_dir, args.colour_guard)
            if store_webcam_figures(state, run_dir, config.describe(), result):
                print(f"{'webcam' if setup else 'stills'} figures added to {run_dir / 'evaluation.json'}")
        elif args.run:
            state = load_checkpoint(args.run)
            if setup is not None:
                common["clips"] = replace(setup, label=f"{run_folder(args.run).name} step {state['step']}")
            if args.sheet:
                common["sheet"] = args.sheet
            result = evaluate_checkpoint_state(state, run_folder(args.run), args.photos, args.style_images, **common)
            if result is None:
                raise StyleCamError("the run has no DATAROOT/testA and testB; pass --photos and --style-images")
        else:
            if not extras_only and (args.photos is None or args.style_images is None):
                raise StyleCamError(
                    "--style needs --photos DIR and --style-images DIR, or --clips VIDEO... or --stills DIR"
                )
            if stills_setup is not None and args.style_images is None:
                raise StyleCamError("--stills needs --style-images DIR (the rooms are measured against them)")
            library = StyleLibrary(args.library)
            model, style = library.load(args.style)
            if setup is not None:
                common["clips"] = setup = replace(setup, label=style.name)
            if extras_only:
                result = evaluate_extras_only(model, setup, stills_setup, args.style_images, args.colour_guard)
            else:
                sheet = args.sheet or Path(f"{style.name}_sheet.png")
                result = evaluate_generators(model, None, args.photos, args.style_images, sheet=sheet, **common)
            if args.update_library:
                # the figures name the generator they were measured on, not the one an earlier entry had
                summary = {**result.summary(), "generator": style.config.describe()}
                if "webcam" in summary:
                    summary["webcam"] = merged_webcam(style.evaluation.get("webcam"), summary["webcam"])
                library.update_entry(style.name, evaluation=summary)
    except StyleCamError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(result.table())
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result.summary(), indent=2) + "\n")
        print(f"figures: {args.json}")
    if result.sheet:
        print(f"sample sheet: {result.sheet}")
    if result.webcam is not None and result.webcam.sheet:
        print(f"face sheet: {result.webcam.sheet}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
