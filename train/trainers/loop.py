"""What CycleGAN training and distillation share: the resume path, the learning-rate schedule and
its re-sync, and the run loop (time budget, stop requests, logging, samples, checkpoints, export).

A trainer plugs into `run_loop` through the `Job` protocol (its step counter, one training step,
its learning rate); the caller hands it closures for the checkpoint state and the sample grid.
`cli` is the command line both `python -m train` and `python -m train.distill` are built from.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import platform
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

import torch
from torch import nn
from tqdm import tqdm

from models.errors import StyleCamError
from train.trainers.checkpoint import LATEST, load_checkpoint, run_folder, save_checkpoint
from train.trainers.config import RunConfig, add_config_args, given_fields
from train.trainers.distributed import DistInfo, any_rank
from train.trainers.progress import LossLog

C = TypeVar("C", bound=RunConfig)


def init_weights(model: nn.Module, gain: float = 0.02) -> nn.Module:
    """Reference CycleGAN init: conv weights ~ N(0, gain), biases 0, norm scales ~ N(1, gain)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.InstanceNorm2d) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    return model


def lr_factor(step: int, total_steps: int, decay_fraction: float) -> float:
    """1 for the first (1 - decay_fraction) of the steps, then linear towards 0."""
    decay = round(total_steps * decay_fraction)
    constant = total_steps - decay
    return max(0.0, 1.0 - max(0, step - constant) / float(decay + 1))


def sync_schedule(schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler], step: int, source: str) -> None:
    """Put each scheduler's epoch on the run's step. LambdaLR counts its own epochs, so a
    checkpoint assembled from two runs (one's optimisers under another's step counter) would
    otherwise train at the rate of the wrong step, 0 past the schedule's end, without a word."""
    for key, sched in schedulers.items():
        if sched.last_epoch == step:
            continue
        warnings.warn(
            f"{source}: the {key} learning-rate schedule was at step {sched.last_epoch}, the run at "
            f"{step}; the schedule now follows the run",
            stacklevel=3,
        )
        sched.last_epoch = step - 1
        sched.step()  # the scheduler sets every group's rate for the run's step itself


def hardware_description(device: torch.device, world_size: int = 1) -> str:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return f"{world_size} x {name}" if world_size > 1 else name
    cpu = _cpu_model() or platform.processor() or platform.machine()
    return f"CPU {cpu}, {torch.get_num_threads()} threads" + (f", {world_size} processes" if world_size > 1 else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


class StopFlag:
    """Ctrl-C / SIGTERM ask for a clean stop at the end of the current step (the checkpoint then
    holds a consistent state); a second Ctrl-C aborts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread (e.g. a test thread)
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstop requested: finishing this step and saving a checkpoint (Ctrl-C again to abort)", file=sys.stderr)

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


# -- resume ------------------------------------------------------------------------------------
def resume_run(cls: type[C], kind: str, where: Path | str, given: dict) -> tuple[C, dict]:
    """The config and state to go on with a run of `kind` from `where` (a run folder or checkpoint
    file): the checkpoint's config with the changes `given` allows. Without an explicit `out` the
    run goes on where the checkpoint is, not in the folder its config names (a copied or moved run
    must not overwrite its original)."""
    state = load_checkpoint(where)
    if state.get("slim"):
        raise StyleCamError(f"{where} is a slim checkpoint (generators only): export or evaluate it, not resume it")
    if state.get("kind") != kind:
        raise StyleCamError(f"{where} is a {state.get('kind')} checkpoint, not a {kind} run")
    config = cls.for_resume(state["config"], given)
    if "out" not in given:
        config.out = str(run_folder(where))
    return config, state


# -- the run loop ------------------------------------------------------------------------------
class Job(Protocol):
    """A trainer as the run loop sees it."""

    step: int
    train_seconds: float
    last_losses: dict[str, float]

    def train_step(self, *batch: torch.Tensor) -> dict[str, torch.Tensor]: ...

    def lr(self) -> float: ...


def run_loop(
    job: Job,
    config: RunConfig,
    total: int,
    batches: Iterator,
    checkpoint: Callable[[], dict | None],
    sample: Callable[[Path], None],
    *,
    resumed: bool = False,
    info: DistInfo = DistInfo(),  # noqa: B008 - frozen dataclass
    device: torch.device | None = None,
    epoch_length: int | None = None,
    stop_at_step: int | None = None,
    quiet: bool = False,
    on_step: Callable[[], None] | None = None,
) -> bool:
    """Step `job` to `total`, the time budget (--max-minutes), a stop request or `stop_at_step`
    (tests, a caller's planning); log, sample and checkpoint on the way and once more at the end,
    then export when the run finished and the config says so. Returns whether the run reached `total`.

    `checkpoint()` is called on every rank (it may gather) and returns the state to save on the
    main one; `sample(path)` writes a sample grid (main rank only); `on_step()`, when given, runs
    after every step (a caller's progress file or preview: train.make_style)."""
    device = device or torch.device("cpu")
    say = print if info.is_main and not quiet else (lambda *a, **k: None)
    run_dir = config.run_dir()
    ckpt_path = run_dir / "checkpoints" / LATEST
    log = None
    if info.is_main:  # TensorBoard events too, when tensorboard is installed
        log = LossLog(run_dir / "losses.csv", job.step if resumed else None, run_dir / "tensorboard")

    def save() -> None:
        state = checkpoint()
        if state is not None:
            save_checkpoint(ckpt_path, state)
            if config.snapshot_every and job.step % config.snapshot_every == 0:
                save_checkpoint(ckpt_path.with_name(f"step_{job.step:07d}.pt"), state)

    sums: dict[str, torch.Tensor] = {}
    n_sum = 0
    session_start = last_save = time.monotonic()
    bar = tqdm(total=total, initial=job.step, disable=not info.is_main or quiet, dynamic_ncols=True, mininterval=1)
    with StopFlag() as stop:
        while True:
            over_time = config.max_minutes is not None and time.monotonic() - session_start >= config.max_minutes * 60
            halted = stop_at_step is not None and job.step >= stop_at_step
            if any_rank(stop.requested or over_time or halted or job.step >= total, info, device):
                break
            step_start = time.monotonic()
            batch = next(batches)
            losses = job.train_step(*batch) if isinstance(batch, list | tuple) else job.train_step(batch)
            job.train_seconds += time.monotonic() - step_start
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + v
            n_sum += 1
            bar.update(1)
            step = job.step
            if on_step is not None:
                on_step()
            if step % config.log_every == 0 or step == total:
                job.last_losses = {k: float(v) / n_sum for k, v in sums.items()}
                if not all(math.isfinite(v) for v in job.last_losses.values()):
                    raise StyleCamError(f"losses became NaN/inf at step {step}: {job.last_losses}")
                sums, n_sum = {}, 0
                bar.set_postfix({k: f"{v:.3f}" for k, v in job.last_losses.items()}, refresh=False)
                if log is not None:
                    epoch = {"epoch": step * config.batch_size * info.world_size / epoch_length} if epoch_length else {}
                    log.write(step, {**epoch, "lr": job.lr(), "seconds": job.train_seconds, **job.last_losses})
            if info.is_main and (step % config.sample_every == 0 or step == total):
                sample(run_dir / "samples" / f"step_{step:07d}.png")
            due = (
                step % config.save_every == 0
                or (config.snapshot_every and step % config.snapshot_every == 0)
                or time.monotonic() - last_save >= config.save_minutes * 60
            )
            if any_rank(due, info, device) and step < total:
                save()
                last_save = time.monotonic()
    bar.close()
    save()
    finished = job.step >= total and stop_at_step is None
    if info.is_main:
        sample(run_dir / "samples" / "latest.png")
        if log is not None:
            log.close()
        say(f"saved {ckpt_path} at step {job.step} of {total} ({job.train_seconds / 60:.1f} min of training)")
        if config.export and finished:
            export_finished(config, run_dir, say)
    return finished


def export_finished(config: RunConfig, run_dir: Path, say: Callable[..., None] = print) -> None:
    """Evaluate a finished run and add its generator to the style library as config.style_name(),
    or as the fast twin of the style config.twin_of() names."""
    from train.stages.export import export_run

    twin_of = config.twin_of()
    name = twin_of or config.style_name()
    style = export_run(run_dir, name, library_root=config.library, evaluate=True, twin_of=twin_of is not None)
    what = f"the fast twin of style {name!r}" if twin_of else f"style {name!r}"
    say(f"exported {what} to {style.path}")


# -- command line ------------------------------------------------------------------------------
def build_parser(
    cls: type[RunConfig], prog: str, description: str, epilog: str | None = None
) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=epilog)
    add_config_args(parser, cls)
    parser.add_argument(
        "--resume",
        nargs="?",
        const="auto",
        default=None,
        help="continue a run exactly: a checkpoint/run folder, or no value for runs/NAME (or --out)",
    )
    return parser


def cli(
    argv: list[str] | None,
    parser: argparse.ArgumentParser,
    cls: type[C],
    kind: str,
    run: Callable[[C, dict | None], object],
) -> int:
    """Parse, build the config (or the resumed one), run; a StyleCamError is one line, status 2."""
    args = parser.parse_args(argv)
    given = given_fields(args, cls)
    try:
        if args.resume:
            where = cls(**given).run_dir() if args.resume == "auto" else Path(args.resume)
            config, state = resume_run(cls, kind, where, given)
        else:
            config, state = cls(**given), None
        run(config, state)
    except StyleCamError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
