"""`python main.py make-style PAINTINGS --name NAME --photos DIR_OR_VIDEO [--minutes 30]`: a folder
of paintings in, a style in the user library out, within a time budget (issue 33).

The steps, each a small function below, all into one run folder (default
<user data>/make_style/NAME, beside the user library; never the source tree):

1. check: the paintings folder (at least 20 decodable images), the name (free, or --replace), the
   photos (folders of images and/or videos);
2. photos: a fixed 10% of the paintings held out for judging; the photos (a video gives a frame
   every half second) and the paintings copied at the training size into RUN/photos, RUN/paintings;
   the base style: --base, or the shipped style whose outputs on a few photos have the colour
   statistics nearest the paintings' (train/stages/base_pick.py);
3. train: FastCUT fine-tuning the base (train/trainers/cut.py with --init BASE, 128 px crops from
   256, lr 1e-4, grid penalty 100): a short probe measures the step rate, then max_steps is set so
   the learning-rate decay ends when the budget, less the time the steps after it need, runs out
   (measured again at 25% and 45% of it, while the rate is still constant). Checkpoints at
   least once a minute and on SIGTERM / Ctrl-C; RUN/preview.safetensors about once a minute;
4. refit: the palette map fitted again on what the generator now paints (train.palette --refit);
5. evaluate: on the held-out paintings against Reinhard colour transfer, faces and flicker on the
   video (or faces on the stills) (train/evaluation/style_verdict.py);
6. export: into the style library with the figures in its manifest entry.

RUN/progress.json says where it is (/work/coord/make_style_contract.md is the GUI's side of it);
the same command again goes on where a stopped or killed run left off, and says so when the run
is finished. Exit status: 0 done, 1 one line "error: ..." (bad input, disk full), 130 stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from models.checkpoints import make_readable, save_generator
from models.errors import StyleCamError, StyleError
from models.style_library import SHIPPED_ROOT, STYLE_NAME, StyleLibrary, make_style_runs_root
from train.stages.base_pick import pick_base
from train.stages.export import export_run
from train.stages.palette import FIT_PHOTOS, with_palettes
from train.stages.run_state import EVALUATION_FILE, run_generators
from train.stages.style_inputs import (
    check_paintings,
    copy_paintings,
    find_photo_sources,
    gather_photos,
    split_held_out,
    thin,
)
from train.trainers.checkpoint import LATEST, load_checkpoint, save_checkpoint
from train.trainers.config import CutConfig
from train.trainers.cut import CutTrainer, run_cut
from train.trainers.data import scan_folder
from train.trainers.loop import resume_run

PHASES = ("checking", "photos", "train", "refit", "evaluate", "export", "done")
EXIT_STOPPED = 130
PROBE_STEPS = 30  # steps that measure the rate before the schedule's length is set
WARMUP_STEPS = 3  # left out of the rate: the first steps are slow
REPLAN_AT = (0.25, 0.45)  # of the planned steps: measure again (the LR is constant until half-way)
REPLAN_MIN_SECONDS = 240  # a run with less training time left is planned once
PREVIEW_SECONDS = 60
PROGRESS_SECONDS = 2.0
EVAL_PHOTOS = 60
EVAL_SIZE = 256
PROVISIONAL_STEPS = 10**7  # the probe's schedule length: its learning rate stays at the full rate
FINISH_SECONDS = 120.0  # refit, evaluation and export without a video (2-core CPU shared, one thread)
FINISH_SECONDS_PER_VIDEO = 120.0  # a clip's flow, faces and flicker (a 4-min pilot took 140 s with one)
FINISH_MAX_SHARE = 0.25  # of the budget, at most, held back for those


class Stopped(Exception):
    """SIGTERM / SIGINT outside the training loop (which checkpoints and returns by itself)."""


@dataclass
class Request:
    """What the command was asked; stored in RUN/job.json so a rerun goes on with the same."""

    paintings: str
    name: str
    photos: list[str]
    minutes: float = 30.0
    base: str = "auto"
    threads: int = 1
    library: str | None = None
    replace: bool = False
    steps: int | None = None  # a fixed step count instead of the time budget (quick looks, tests)
    crop_size: int = 128
    load_size: int = 256


@dataclass
class JobState:
    """RUN/job.json: the request, the steps done, the choices made and the time spent so far."""

    request: dict
    done: list[str] = field(default_factory=list)
    spent_seconds: float = 0.0
    base: str | None = None
    base_library: str | None = None
    base_distances: dict[str, float] = field(default_factory=dict)
    videos: list[str] = field(default_factory=list)
    photos: int = 0
    paintings: int = 0
    held_out: int = 0
    max_steps: int | None = None  # the planned schedule length, once set for good
    result: dict | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each phase, all sessions


class RunFolder:
    """The files of one make-style run."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.job = self.root / "job.json"
        self.progress = self.root / "progress.json"
        self.preview = self.root / "preview.safetensors"
        self.photos = self.root / "photos"
        self.eval_photos = self.root / "eval_photos"
        self.paintings = self.root / "paintings" / "train"
        self.held_out = self.root / "paintings" / "held_out"
        self.train = self.root / "train"
        self.checkpoint = self.train / "checkpoints" / LATEST
        self.palette = self.train / "checkpoints" / "palette.pt"
        self.sheet = self.root / "evaluation_sheet.png"
        self.face_sheet = self.root / "faces.jpg"

    def load_state(self) -> JobState | None:
        if not self.job.is_file():
            return None
        try:
            return JobState(**json.loads(self.job.read_text()))
        except (json.JSONDecodeError, TypeError) as err:
            raise StyleCamError(f"{self.job} is damaged ({err}); remove {self.root} to start again") from err

    def save_state(self, state: JobState) -> None:
        write_json(self.job, asdict(state))

    def clear(self) -> None:
        """Remove this command's files (a finished run made again); others' (the app's frames) stay."""
        for path in (self.job, self.progress, self.preview, self.sheet, self.face_sheet):
            path.unlink(missing_ok=True)
        for folder in (self.photos, self.eval_photos, self.paintings.parent, self.train):
            shutil.rmtree(folder, ignore_errors=True)

    def step(self) -> int:
        return int(load_checkpoint(self.checkpoint)["step"]) if self.checkpoint.is_file() else 0


def write_json(path: Path, data: dict) -> None:
    """Atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        make_readable(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def default_run_dir(name: str) -> Path:
    """<user data>/make_style/NAME: beside the user style library, never in the source tree."""
    return make_style_runs_root() / name


# -- time and progress -------------------------------------------------------------------------
class Clock:
    """The budget across sessions: what earlier sessions spent plus this one's wall time."""

    def __init__(self, budget_seconds: float, spent_before: float) -> None:
        self.budget, self.before, self.start = budget_seconds, spent_before, time.monotonic()

    def spent(self) -> float:
        return self.before + time.monotonic() - self.start

    def left(self) -> float:
        return self.budget - self.spent()


class Reporter:
    """RUN/progress.json (the contract's fields), the terminal's bar, and the time spent in job.json."""

    def __init__(self, folder: RunFolder, state: JobState, clock: Clock) -> None:
        self.folder, self.state, self.clock = folder, state, clock
        self.last: dict = {"phase": "checking", "step": 0, "steps": None, "preview": None, "preview_step": 0}
        if folder.progress.is_file():
            with contextlib.suppress(OSError, json.JSONDecodeError):
                old = json.loads(folder.progress.read_text())
                self.last.update({k: old[k] for k in ("preview", "preview_step") if k in old})
        self.written = 0.0
        # the terminal's bar (none when stderr is not a terminal): the whole job, with its time left
        self.bar = tqdm(total=1000, disable=None, dynamic_ncols=True, bar_format="{percentage:3.0f}%|{bar}| {desc}")

    def update(
        self, phase: str, message: str, *, seconds_left: float | None = None, force: bool = True, **fields
    ) -> None:
        now = time.monotonic()
        if not force and now - self.written < PROGRESS_SECONDS:
            return
        self.written = now
        spent = self.clock.spent()
        if phase == "done":
            fraction = 1.0
        elif seconds_left is not None:
            fraction = min(0.99, spent / max(1e-6, spent + max(0.0, seconds_left)))
        else:
            fraction = min(0.99, spent / max(1.0, self.clock.budget))
        self.last.update(fields, phase=phase, message=message, fraction=round(fraction, 4),
                         seconds_left=None if seconds_left is None else round(max(0.0, seconds_left), 1))  # fmt: skip
        self.last.setdefault("result", None)
        self.state.spent_seconds = round(spent, 1)
        with contextlib.suppress(OSError):  # a full disk must not hide the error that matters
            write_json(self.folder.progress, self.last)
            self.folder.save_state(self.state)
        self.bar.n = round(1000 * fraction)
        left = f", {format_seconds(seconds_left)} left" if seconds_left is not None else ""
        steps = f" step {self.last['step']}/{self.last['steps']}" if phase == "train" and self.last["steps"] else ""
        self.bar.set_description_str(f"{self.state.request['name']}: {phase}{steps}{left}")

    def preview(self, trainer: CutTrainer) -> None:
        """The newest generator as a loadable style file, for the GUI's preview."""
        save_generator(self.folder.preview, trainer.gen, trainer.gen_config)
        self.last.update(preview=str(self.folder.preview.resolve()), preview_step=trainer.step)

    def close(self) -> None:
        self.bar.close()


def format_seconds(seconds: float | None) -> str:
    seconds = max(0, round(seconds or 0))
    return f"{seconds // 60}:{seconds % 60:02d}"


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """SIGTERM raises Stopped (SIGINT is KeyboardInterrupt already); the training loop installs
    its own handlers while it runs, which checkpoint first."""

    def handle(signum: int, frame: object) -> None:
        raise Stopped

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# -- 1. check ----------------------------------------------------------------------------------
def open_library(request: Request) -> StyleLibrary:
    return StyleLibrary(Path(request.library)) if request.library else StyleLibrary()


def check_request(request: Request) -> None:
    """Everything that can be wrong with the input, before anything is written; one line each."""
    if not STYLE_NAME.fullmatch(request.name):
        raise StyleCamError(f"--name {request.name!r} is not usable; use letters, digits, '-', '_' or '.'")
    if request.minutes <= 0 or (request.steps is not None and request.steps < 1):
        raise StyleCamError("--minutes must be positive (and --steps at least 1)")
    if request.threads < 1:
        raise StyleCamError("--threads must be at least 1")
    if not request.photos:
        raise StyleCamError("give the photos to learn from: --photos DIR (a folder of photos) or --photos VIDEO")
    check_paintings(request.paintings)
    if request.name in open_library(request).names() and not request.replace:
        raise StyleCamError(f"a style named {request.name!r} exists already; choose another --name or pass --replace")
    find_photo_sources(request.photos)
    if request.base != "auto":
        base_library(request)


def base_library(request: Request) -> str | None:
    """The library folder --base NAME is in (None: the app's own library), else one line."""
    for root in ([request.library] if request.library else [None]) + [str(SHIPPED_ROOT)]:
        with contextlib.suppress(StyleError):
            (StyleLibrary(Path(root)) if root else StyleLibrary()).resolve(request.base)
            return root
    raise StyleCamError(f"--base {request.base!r} is not a style in the library; name one or use auto")


# -- 2. photos, paintings and the base ---------------------------------------------------------
def prepare_data(folder: RunFolder, state: JobState, request: Request) -> None:
    """Held-out split, photos and paintings at the training size in the run folder."""
    for stale in (folder.photos, folder.eval_photos, folder.paintings, folder.held_out):
        shutil.rmtree(stale, ignore_errors=True)  # a half-done copy from a killed run
    train, held = split_held_out(check_paintings(request.paintings))
    size = max(request.load_size, 256)
    state.paintings = copy_paintings(train, folder.paintings, size)
    state.held_out = copy_paintings(held, folder.held_out, size)
    sources = find_photo_sources(request.photos)
    state.photos = gather_photos(sources, folder.photos, size)
    state.videos = [str(v.resolve()) for v in sources.videos]
    photos = scan_folder(folder.photos, 1, "photos").files
    for path in thin(photos, EVAL_PHOTOS):  # the photos the figures are measured on, spread over all
        folder.eval_photos.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder.eval_photos / path.name)


def choose_base(folder: RunFolder, state: JobState, request: Request) -> None:
    """--base NAME (the request's library, else the shipped one), or Auto among the shipped styles."""
    if request.base != "auto":
        state.base, state.base_library = request.base, base_library(request)
        return
    shipped = StyleLibrary(SHIPPED_ROOT)
    names = shipped.names()
    if not names:
        raise StyleCamError(f"no shipped styles in {SHIPPED_ROOT} to start from; pass --base STYLE")
    state.base, state.base_distances = pick_base(shipped, names, folder.photos, folder.paintings)
    state.base_library = str(SHIPPED_ROOT)


# -- 3. train ----------------------------------------------------------------------------------
def finish_seconds(request: Request, videos: int) -> float:
    """Time held back for refit, evaluation and export."""
    return min(FINISH_SECONDS + FINISH_SECONDS_PER_VIDEO * videos, FINISH_MAX_SHARE * request.minutes * 60)


def cut_options(folder: RunFolder, state: JobState, request: Request) -> dict:
    """The FastCUT fine-tune: issue 33's settings (the CUT runs in docs/training-notes.md)."""
    return {
        "name": request.name, "out": str(folder.train), "data_a": str(folder.photos),
        "data_b": str(folder.paintings), "fast": True, "init": state.base, "library": state.base_library,
        "load_size": request.load_size, "crop_size": request.crop_size, "ndf": 32, "lambda_grid": 100.0,
        "lr": 1e-4, "decay_fraction": 0.5, "threads": request.threads, "save_minutes": 1.0,
        "sample_every": 1000, "log_every": 10, "export": False,
    }  # fmt: skip


class StepTimes:
    """Wall-clock time of each step of a segment (checkpoints and previews included) and of the
    segment's start (data scan, model set-up) before its first step."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.times: list[float] = []

    def add(self) -> None:
        self.times.append(time.monotonic())

    def seconds_per_step(self) -> float | None:
        skip = WARMUP_STEPS if len(self.times) > WARMUP_STEPS + 2 else 0
        times = self.times[skip:]
        return (times[-1] - times[0]) / (len(times) - 1) if len(times) >= 2 else None

    def setup_seconds(self) -> float:
        return self.times[0] - self.started if self.times else 0.0


def next_segment(step: int, left: float, per_step: float | None, setup: float, replans: int) -> tuple[int, int | None]:
    """(schedule length, step to stop at and measure again, or None for the last segment) when
    `left` seconds of training remain at `step`. With no rate yet: a probe. Then the schedule is
    set so that it ends with the time, and measured again at REPLAN_AT of it while the learning
    rate is still constant (the first half), `replans` being how many of those were done."""
    if per_step is None:
        return PROVISIONAL_STEPS, step + PROBE_STEPS
    points = [f for f in REPLAN_AT[replans:] if left > REPLAN_MIN_SECONDS]
    total = step + max(1, math.floor((left - setup * (1 + len(points))) / per_step))
    stops = [round(f * total) for f in points if round(f * total) > step + PROBE_STEPS]
    return total, (stops[0] if stops else None)


def train_style(folder: RunFolder, state: JobState, request: Request, clock: Clock, report: Reporter) -> None:
    """Train in segments to the planned step count or the budget's end."""
    finish = finish_seconds(request, len(state.videos))
    reserve = 0.0 if request.steps else finish  # a fixed step count trains them all, whatever the time
    per_step, setup, replans = None, 0.0, 0
    while True:
        step = folder.step()
        left = clock.left() - reserve
        if request.steps:
            total, stop_at = request.steps, None
        elif state.max_steps is not None:
            total, stop_at = state.max_steps, None
        else:
            total, stop_at = next_segment(step, left, per_step, setup, replans)
            if per_step is not None:
                replans += 1
                if stop_at is None:
                    state.max_steps = total  # the plan is final: a rerun keeps this schedule
        if step >= total or (not request.steps and left <= 0):
            return
        times = run_segment(folder, state, request, clock, report, total, stop_at, max(left, 1.0), finish)
        per_step, setup = times.seconds_per_step() or per_step, times.setup_seconds()
        if stop_at is None:
            return


def run_segment(
    folder: RunFolder, state: JobState, request: Request, clock: Clock, report: Reporter,
    total: int, stop_at: int | None, seconds: float, finish: float,
) -> StepTimes:  # fmt: skip
    """One run_cut call to `stop_at` (or `total`) within `seconds`; raises Stopped when a signal
    cut it short (the loop has checkpointed by then). `finish`: the time the steps after
    training take, for the time left shown."""
    given = {**cut_options(folder, state, request), "max_steps": total, "max_minutes": seconds / 60}
    if request.steps:
        given.update(max_minutes=None, save_every=max(1, request.steps // 10))
    if folder.checkpoint.is_file():
        config, resume = resume_run(CutConfig, "cut", folder.train, given)
    else:
        config, resume = CutConfig(**given), None
    times = StepTimes()
    last_preview = -math.inf
    planned = None if total == PROVISIONAL_STEPS else total
    seen: list[CutTrainer] = []

    def seconds_left(step: int) -> float:
        per_step = times.seconds_per_step()
        return finish + per_step * (planned - step) if per_step and planned else max(finish, clock.left())

    def report_step(step: int, force: bool) -> None:
        of = f" of {planned}" if planned else ""
        report.update("train", f"training from {state.base}: step {step}{of}", seconds_left=seconds_left(step),
                      step=step, steps=planned, force=force)  # fmt: skip

    def on_step(trainer: CutTrainer) -> None:
        nonlocal last_preview
        seen[:] = [trainer]
        times.add()
        due = time.monotonic() - last_preview >= PREVIEW_SECONDS
        if due:
            report.preview(trainer)
            last_preview = time.monotonic()
        report_step(trainer.step, force=due)

    run_cut(config, resume, stop_at_step=stop_at, quiet=True, on_step=on_step)
    reached = seen[0].step if seen else folder.step()
    over_time = config.max_minutes is not None and time.monotonic() - times.started >= config.max_minutes * 60
    if reached < (stop_at if stop_at is not None else total) and not over_time:
        raise Stopped  # a stop request: the loop has saved its checkpoint; leave quickly
    if seen:  # the newest weights for the preview, and the step the segment ended at
        report.preview(seen[0])
        report_step(reached, force=True)
    return times


# -- 4-6. refit, evaluate, export --------------------------------------------------------------
def refit_palette(folder: RunFolder) -> None:
    state = load_checkpoint(folder.checkpoint)
    save_checkpoint(folder.palette, with_palettes(state, folder.photos, folder.paintings, FIT_PHOTOS, refit=True))


def evaluate_style(folder: RunFolder, state: JobState, request: Request) -> dict:
    """The verdict's figures, written as the run's evaluation.json (what export ships)."""
    from train.evaluation.style_verdict import judge

    checkpoint = load_checkpoint(folder.palette)
    generator, _, config = run_generators(checkpoint)
    videos = [Path(v) for v in state.videos if Path(v).is_file()]
    size = min(EVAL_SIZE, request.load_size // 4 * 4)  # train.evaluate's 256, or the training size below it
    verdict, result = judge(
        generator, folder.eval_photos, folder.held_out, videos, size=size, sheet=folder.sheet,
        face_sheet=folder.face_sheet if videos else None,
    )  # fmt: skip
    figures = verdict.to_dict()
    summary = {**result.summary(), "step": checkpoint["step"], "generator": config.describe(),
               "photos_dir": str(folder.eval_photos), "style_dir": str(folder.held_out), "make_style": figures}  # fmt: skip
    write_json(folder.train / EVALUATION_FILE, summary)
    return figures


def export_style(folder: RunFolder, state: JobState, request: Request, figures: dict) -> dict:
    style = export_run(folder.palette, request.name, library_root=request.library)
    made = {"paintings": str(Path(request.paintings).resolve()), "base": state.base, "minutes": request.minutes,
            "paintings_used": state.paintings, "held_out": state.held_out, "photos": state.photos,
            "videos": state.videos, "run": str(folder.root.resolve())}  # fmt: skip
    open_library(request).update_entry(style.name, training={"make_style": made})
    return {
        "style": style.name,
        "swd_colour": figures["swd_colour"],
        "reinhard_swd_colour": figures["reinhard_swd_colour"],
        "beats_colour_transfer": figures["beats_colour_transfer"],
        "faces": figures["faces"],
        "flicker": figures["flicker"],
        "summary": figures["summary"],
    }


# -- the whole job -----------------------------------------------------------------------------
def start_or_resume(folder: RunFolder, request: Request) -> tuple[JobState, bool]:
    """(state, resumed): the run folder's job when it holds one for these paintings, else a new one
    (after the checks). A finished run with --replace starts again."""
    state = folder.load_state()
    if state is not None:
        old = Request(**state.request)
        if Path(old.paintings).resolve() != Path(request.paintings).resolve() or old.name != request.name:
            raise StyleCamError(
                f"{folder.root} holds a run of {old.name!r} from {old.paintings}; give another --run-dir "
                "or --name, or remove that folder"
            )
        if "done" in state.done and request.replace:
            folder.clear()
        else:
            return state, True
    check_request(request)
    folder.root.mkdir(parents=True, exist_ok=True)
    state = JobState(request=asdict(request))
    folder.save_state(state)
    return state, False


def make_style(request: Request, run_dir: Path | None = None, say=print) -> int:
    folder = RunFolder(run_dir or default_run_dir(request.name))
    state, resumed = start_or_resume(folder, request)
    if "done" in state.done:
        say(
            f"{request.name}: finished already ({folder.root}); {state.result['summary'] if state.result else ''}".rstrip(
                "; "
            )
        )
        say("pass --replace to make it again")
        return 0
    request = Request(**state.request)  # a rerun goes on with the first run's settings
    clock = Clock(request.minutes * 60, state.spent_seconds)
    report = Reporter(folder, state, clock)
    torch_threads(request.threads)
    if resumed:
        say(f"resuming {folder.root} ({format_seconds(state.spent_seconds)} spent of {request.minutes:g} min)")
    try:
        run_phases(folder, state, request, clock, report, say)
    except (Stopped, KeyboardInterrupt):
        report.update("stopped", f"stopped; run the same command again to go on ({folder.root})")
        say(f"stopped: run the same command again to go on ({folder.root})", file=sys.stderr)
        return EXIT_STOPPED
    except (OSError, RuntimeError) as err:
        if not disk_full(err, folder.root):
            raise
        step = folder_step(folder)
        kept = f"the last checkpoint (step {step}) is kept; " if step else ""
        message = f"the disk is full ({folder.root}); {kept}free some space and run the same command again"
        report.update("failed", message)
        raise StyleCamError(message) from err
    except StyleCamError as err:
        report.update("failed", str(err))
        raise
    finally:
        report.close()
    return 0


def run_phases(folder: RunFolder, state: JobState, request: Request, clock: Clock, report: Reporter, say) -> None:
    finish = finish_seconds(request, len(state.videos))
    with stop_signals():
        with phase(state, "photos") as todo:
            if todo:
                report.update("photos", "gathering the photos and paintings")
                prepare_data(folder, state, request)
                report.update("photos", "choosing the style to start from")
                choose_base(folder, state, request)
                report.update("photos", f"{state.photos} photos, {state.paintings} paintings (+{state.held_out} "
                              f"held out); starting from {state.base}")  # fmt: skip
                say(report.last["message"])
        with phase(state, "train") as todo:
            if todo:
                train_style(folder, state, request, clock, report)
        with phase(state, "refit") as todo:
            if todo:
                report.update("refit", "fitting the colours to the paintings", seconds_left=finish)
                refit_palette(folder)
        with phase(state, "evaluate") as todo:
            if todo:
                report.update("evaluate", "judging the style on the held-out paintings and the photos",
                              seconds_left=finish * 0.8)  # fmt: skip
                state.result = {"figures": evaluate_style(folder, state, request)}
        with phase(state, "export") as todo:
            if todo:
                report.update("export", "adding the style to the library", seconds_left=5.0)
                state.result = export_style(folder, state, request, (state.result or {}).get("figures") or {})
        state.done.append("done")
        report.update("done", f"{request.name} is in the library: {state.result['summary']}", result=state.result)
        say(f"style {request.name!r} added to the library: {state.result['summary']}")


@contextlib.contextmanager
def phase(state: JobState, name: str) -> Iterator[bool]:
    """Run a phase's body unless it is done (yields whether to); then mark it done and add its time."""
    if name in state.done:
        yield False
        return
    started = time.monotonic()
    try:
        yield True
    finally:
        state.seconds[name] = round(state.seconds.get(name, 0.0) + time.monotonic() - started, 1)
    state.done.append(name)


def folder_step(folder: RunFolder) -> int:
    try:
        return folder.step()
    except StyleCamError:
        return 0


def disk_full(err: BaseException, where: Path) -> bool:
    """ENOSPC / EDQUOT, or a write error (torch reports it as RuntimeError) with next to no space left."""
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    with contextlib.suppress(OSError):
        return "writ" in str(err).lower() and shutil.disk_usage(where).free < 16 * 2**20
    return False


def torch_threads(threads: int) -> None:
    import cv2
    import torch

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)


# -- command line ------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """make-style's options (main.py's subcommand)."""
    parser.add_argument("paintings", type=Path, help="folder of at least 20 paintings (or prints, drawings...)")
    parser.add_argument("--name", required=True, help="name of the new style in your library")
    parser.add_argument(
        "--photos", action="append", default=[], metavar="DIR_OR_VIDEO",
        help="photos to learn from: a folder of images, or a video (a frame every 0.5 s); repeatable",
    )  # fmt: skip
    parser.add_argument("--minutes", type=float, default=30.0, help="time budget, all steps included (default 30)")
    parser.add_argument(
        "--base", default="auto", help="style to start from, or auto (the shipped style nearest in colour)"
    )
    parser.add_argument("--run-dir", type=Path, help="run folder (default <user data>/make_style/NAME)")
    parser.add_argument("--library", help="style library folder (default: your user library)")
    parser.add_argument("--replace", action="store_true", help="replace a style of that name (and a finished run)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for training (default 1)")
    parser.add_argument("--steps", type=int, help="train this many steps instead of filling the time (quick looks)")
    parser.add_argument("--crop-size", type=int, default=128, help="training crop (default 128)")
    parser.add_argument("--load-size", type=int, default=256, help="short side before cropping (default 256)")


def request_from(args: argparse.Namespace) -> Request:
    return Request(
        paintings=str(args.paintings), name=args.name, photos=[str(p) for p in args.photos], minutes=args.minutes,
        base=args.base, threads=args.threads, library=args.library, replace=args.replace, steps=args.steps,
        crop_size=args.crop_size, load_size=args.load_size,
    )  # fmt: skip


def main(argv: list[str] | None = None, prog: str = "python -m train.make_style") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return make_style(request_from(args), args.run_dir)
    except StyleCamError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
