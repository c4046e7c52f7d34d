"""`python -m train.distill --teacher STYLE --student lite ...`: train a fast generator to imitate
a slow one on photos, so a good full-size style gets a CPU twin (GAN Compression, Li et al. 2020).

Losses on the teacher's output y_t = T(x) for photos x:
- pixel: L1(S(x), y_t) x lambda_pixel (10);
- feature distillation: MSE between 1x1-conv-adapted student features and teacher features at
  matching depths of the residual trunk (1/3, 2/3, end) x lambda_feature (1);
- adversarial (LSGAN): a PatchGAN tells teacher outputs (real) from student outputs x lambda_gan (1);
- the webcam priors of train/webcam_losses.py: structure keeping x lambda_structure and
  transformation consistency x lambda_consistency (0 = off).
With --fine-tune the student starts as a copy of the teacher (a library style, palette map and
colour guard included): that is how a shipped style is retrained to keep faces and hold still,
with the pixel loss on --pixel-pool-averaged images so it keeps the style's colours and leaves
the fine structure to the priors.
Single process (DDP is for `python -m train`); checkpoints, --resume and export work as there.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import itertools
import math
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from models.discriminator import PatchDiscriminator
from models.errors import StyleCamError
from models.lite_generator import SeparableResBlock
from models.registry import PRESETS, GeneratorConfig, create_generator
from models.resnet_generator import ResnetBlock
from models.style_library import StyleLibrary
from train.checkpoint import (
    CHECKPOINT_FORMAT,
    LATEST,
    capture_rng,
    cpu_state_dict,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
)
from train.config import _opt, add_config_args, given_fields
from train.data import SingleDomainDataset, StepBatchSampler, load_center, scan_folder
from train.losses import GAN_LOSSES
from train.progress import LossLog, save_grid
from train.trainer import StopFlag, hardware_description, init_weights, lr_factor
from train.webcam_losses import structure_loss, texture_energy_loss, transform_consistency

FEATURE_DEPTHS = (1 / 3, 2 / 3, 1.0)
BLOCK_TYPES = (ResnetBlock, SeparableResBlock)


@dataclass
class DistillConfig:
    """Everything that defines a distillation run (stored in its checkpoints)."""

    teacher: str = _opt("", "teacher: a library style name, a weights file, or a CycleGAN run folder")
    name: str = _opt("distilled", "run and style name; the run goes to runs/NAME unless --out is given")
    dataroot: str | None = _opt(None, "folder with trainA/ (photos); testA/ testB/ are used for samples/evaluation")
    data: str | None = _opt(None, "folder of photos (overrides DATAROOT/trainA)")
    out: str | None = _opt(None, "run folder (default runs/NAME)")
    student: str = _opt("lite", "student generator preset", choices=tuple(PRESETS))
    ngf: int | None = _opt(None, "override the student preset's width")
    n_blocks: int | None = _opt(None, "override the student preset's residual blocks")
    fine_tune: bool = _opt(
        False, "start the student as a copy of the teacher (architecture and weights): fine-tune a style"
    )
    ndf: int = _opt(64, "discriminator width")
    lambda_pixel: float = _opt(10.0, "weight of L1 to the teacher's output")
    lambda_feature: float = _opt(1.0, "weight of the feature-distillation MSE")
    lambda_gan: float = _opt(1.0, "weight of the adversarial loss (0 = no discriminator)")
    pixel_pool: int = _opt(
        1,
        "average both images over this many pixels square before the pixel L1 (1 = per pixel; 4 keeps colours, not strokes)",
    )
    lambda_structure: float = _opt(
        0.0,
        "weight of the structure-keeping prior: the output's luma edges follow the photo's (train/webcam_losses.py)",
    )
    lambda_consistency: float = _opt(
        0.0, "weight of the transformation-consistency prior: G(T(x)+noise) close to T(G(x)) (train/webcam_losses.py)"
    )
    lambda_texture: float = _opt(
        0.0,
        "weight of the texture-energy prior: as much fine detail per 8x8 cell as the teacher's output (fine-tuning)",
    )
    consistency_shift: int = _opt(4, "the consistency prior's largest shift T, in whole pixels")
    consistency_noise: float = _opt(0.02, "the consistency prior's largest sensor-noise std, in [-1, 1] units")
    lr: float = _opt(2e-4, "Adam learning rate")
    beta1: float = _opt(0.5, "Adam beta1")
    max_steps: int = _opt(5000, "total steps (sets the LR schedule's length)")
    decay_fraction: float = _opt(0.5, "last fraction of steps with linear LR decay")
    max_minutes: float | None = _opt(None, "stop (and checkpoint) after this many minutes")
    batch_size: int = _opt(1, "photos per step")
    load_size: int = _opt(286, "resize the short side to this before cropping")
    crop_size: int = _opt(256, "random square crop")
    flip: bool = _opt(True, "random horizontal flips")
    seed: int = _opt(0, "random seed")
    device: str = _opt("auto", "auto, cpu or cuda")
    threads: int | None = _opt(None, "torch CPU threads")
    log_every: int = _opt(10, "steps between CSV rows")
    sample_every: int = _opt(200, "steps between sample grids")
    save_every: int = _opt(500, "steps between checkpoints")
    save_minutes: float = _opt(10.0, "also checkpoint after this many minutes")
    export: bool = _opt(True, "export the student into the style library at the end")
    export_name: str | None = _opt(None, "style name for the export (default NAME)")
    library: str | None = _opt(None, "style library folder")

    RESUMABLE_CHANGES = frozenset(
        {"max_steps", "max_minutes", "device", "threads", "log_every", "sample_every", "save_every",
         "save_minutes", "export", "export_name", "library", "out"}
    )  # fmt: skip

    def student_config(self, teacher: GeneratorConfig | None = None) -> GeneratorConfig:
        if self.fine_tune:
            if teacher is None:
                raise StyleCamError("--fine-tune needs the teacher's architecture")
            return teacher
        base = PRESETS[self.student]
        return dataclasses.replace(
            base,
            ngf=self.ngf if self.ngf is not None else base.ngf,
            n_blocks=self.n_blocks if self.n_blocks is not None else base.n_blocks,
        )

    def run_dir(self) -> Path:
        return Path(self.out) if self.out else Path("runs") / self.name

    def photo_dir(self) -> Path:
        if self.data:
            return Path(self.data)
        if self.dataroot:
            return Path(self.dataroot) / "trainA"
        raise StyleCamError("no photos: give --dataroot DIR (with trainA/) or --data DIR")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_teacher(spec: str, library: str | None = None) -> tuple[nn.Module, GeneratorConfig]:
    """A library style, a weights file, or the A->B generator of a CycleGAN run folder."""
    if not spec:
        raise StyleCamError("--teacher is required (a style name, weights file or run folder)")
    path = Path(spec)
    if path.is_dir() or (path.suffix == ".pt" and path.is_file()):
        from train.export import run_generators

        model, _, config = run_generators(load_checkpoint(path))
        return model, config
    model, style = StyleLibrary(Path(library) if library else None).load(spec)
    return model, style.config


class FeatureTap:
    """Collects the outputs of chosen modules on every forward pass."""

    def __init__(self, modules: list[nn.Module]) -> None:
        self.outputs: list[torch.Tensor] = []
        for m in modules:
            m.register_forward_hook(lambda _m, _i, out: self.outputs.append(out))

    def take(self) -> list[torch.Tensor]:
        out, self.outputs = self.outputs, []
        return out


def trunk_blocks(model: nn.Module) -> list[nn.Module]:
    """The residual blocks at FEATURE_DEPTHS of a generator's trunk."""
    blocks = [m for m in model.modules() if isinstance(m, BLOCK_TYPES)]
    if not blocks:
        raise StyleCamError(f"{type(model).__name__} has no residual trunk to distil features from")
    return [blocks[max(0, math.ceil(d * len(blocks)) - 1)] for d in FEATURE_DEPTHS]


class Distiller:
    """Student, adapters, discriminator, optimisers and one distillation step."""

    def __init__(
        self,
        config: DistillConfig,
        teacher: nn.Module,
        device: torch.device | str = "cpu",
        teacher_config: GeneratorConfig | None = None,
    ) -> None:
        self.config, self.device = config, torch.device(device)
        self.student_config = config.student_config(teacher_config)
        torch.manual_seed(config.seed)
        self.teacher = teacher.to(self.device).eval().requires_grad_(False)
        if config.fine_tune:
            self.student = copy.deepcopy(self.teacher).train()
            for name, p in self.student.named_parameters():  # the palette map stays fixed, as in training
                p.requires_grad_(not name.startswith("palette."))
        else:
            self.student = init_weights(create_generator(self.student_config)).to(self.device).train()
        self.priors_rng = torch.Generator().manual_seed(config.seed + 1)
        if hasattr(self.teacher, "inference_border"):
            # The student trains without the light generators' inference margin; so must the
            # teacher, or their feature maps differ in size (models/lite_generator.py).
            self.teacher.inference_border = 0
        self.teacher_tap, self.student_tap = (
            FeatureTap(trunk_blocks(self.teacher)),
            FeatureTap(trunk_blocks(self.student)),
        )
        with torch.no_grad():
            probe = torch.zeros(1, 3, 32, 32, device=self.device)
            t_ch = [f.shape[1] for f in (self.teacher(probe), self.teacher_tap.take())[1]]
            s_ch = [f.shape[1] for f in (self.student(probe), self.student_tap.take())[1]]
        self.adapters = nn.ModuleList([nn.Conv2d(s, t, 1) for s, t in zip(s_ch, t_ch, strict=True)]).to(self.device)
        if config.fine_tune:  # the student starts as the teacher: its features need no mapping yet
            with torch.no_grad():
                for adapter in self.adapters:
                    adapter.weight.copy_(torch.eye(adapter.out_channels).view_as(adapter.weight))
                    adapter.bias.zero_()
        self.disc = init_weights(PatchDiscriminator(3, config.ndf)).to(self.device).train()
        betas = (config.beta1, 0.999)
        self.opt_s = torch.optim.Adam(
            [p for p in itertools.chain(self.student.parameters(), self.adapters.parameters()) if p.requires_grad],
            config.lr,
            betas,
        )
        self.opt_d = torch.optim.Adam(self.disc.parameters(), config.lr, betas)
        self.optimizers = {"S": self.opt_s, "D": self.opt_d}
        lam = self._lr_lambda
        self.schedulers = {k: torch.optim.lr_scheduler.LambdaLR(o, lam) for k, o in self.optimizers.items()}
        self.gan = GAN_LOSSES["lsgan"]
        self.step, self.train_seconds, self.last_losses = 0, 0.0, {}

    def _lr_lambda(self, step: int) -> float:
        return lr_factor(step, self.config.max_steps, self.config.decay_fraction)

    def train_step(self, photos: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.config
        x = photos.to(self.device)
        with torch.no_grad():
            target = self.teacher(x)
            t_feats = self.teacher_tap.take()
        out = self.student(x)
        s_feats = self.student_tap.take()
        pool = cfg.pixel_pool
        loss_pixel = F.l1_loss(F.avg_pool2d(out, pool), F.avg_pool2d(target, pool)) * cfg.lambda_pixel
        loss_feat = sum(F.mse_loss(a(s), t) for a, s, t in zip(self.adapters, s_feats, t_feats, strict=True))
        loss_feat = loss_feat * cfg.lambda_feature
        loss_s = loss_pixel + loss_feat
        zero = torch.zeros((), device=self.device)
        loss_structure = loss_consistency = zero
        if cfg.lambda_structure > 0:
            loss_structure = structure_loss(out, x) * cfg.lambda_structure
            loss_s = loss_s + loss_structure
        loss_texture = zero
        if cfg.lambda_texture > 0:
            loss_texture = texture_energy_loss(out, target) * cfg.lambda_texture
            loss_s = loss_s + loss_texture
        if cfg.lambda_consistency > 0:
            loss_consistency = transform_consistency(
                self.student, x, out, cfg.consistency_shift, cfg.consistency_noise, self.priors_rng
            )
            self.student_tap.take()  # the second forward's features are not distilled
            loss_consistency = loss_consistency * cfg.lambda_consistency
            loss_s = loss_s + loss_consistency
        loss_g = loss_d = zero
        if cfg.lambda_gan > 0:
            self.disc.requires_grad_(False)
            loss_g = self.gan.g(self.disc(out)) * cfg.lambda_gan
            loss_s = loss_s + loss_g
        self.opt_s.zero_grad(set_to_none=True)
        loss_s.backward()
        self.opt_s.step()
        if cfg.lambda_gan > 0:
            self.disc.requires_grad_(True)
            logits = self.disc(torch.cat([target, out.detach()], 0))
            loss_d = self.gan.d(logits[: len(x)], logits[len(x) :])
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
        self.schedulers["S"].step()
        if cfg.lambda_gan > 0:
            self.schedulers["D"].step()
        self.step += 1
        return {
            "pixel": loss_pixel.detach(),
            "feature": loss_feat.detach(),
            "structure": loss_structure.detach(),
            "consistency": loss_consistency.detach(),
            "texture": loss_texture.detach(),
            "G": loss_g.detach(),
            "D": loss_d.detach(),
        }

    def state_dict(self, extra: dict) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "kind": "distill",
            "export_model": "student",
            "config": self.config.to_dict(),
            "generator_config": self.student_config.to_dict(),
            "step": self.step,
            "total_steps": self.config.max_steps,
            "train_seconds": self.train_seconds,
            "world_size": 1,
            "last_losses": dict(self.last_losses),
            "models": {
                "student": cpu_state_dict(self.student),
                "adapters": cpu_state_dict(self.adapters),
                "D": cpu_state_dict(self.disc),
            },
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "rank_states": [{"rng": capture_rng(self.device), "priors_rng": self.priors_rng.get_state()}],
            **extra,
        }

    def load_state_dict(self, state: dict) -> None:
        saved = GeneratorConfig.from_dict(state["generator_config"])
        if saved != self.student_config:
            raise StyleCamError(f"checkpoint student is {saved.describe()}, not {self.student_config.describe()}")
        try:
            self.student.load_state_dict(state["models"]["student"])
            self.adapters.load_state_dict(state["models"]["adapters"])
            self.disc.load_state_dict(state["models"]["D"])
        except RuntimeError as err:
            raise StyleCamError(f"checkpoint does not match this distillation setup ({str(err)[:160]})") from err
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        for k, s in self.schedulers.items():
            s.load_state_dict(state["schedulers"][k])
        self.step, self.train_seconds = int(state["step"]), float(state["train_seconds"])
        self.last_losses = dict(state.get("last_losses", {}))
        restore_rng(state["rank_states"][0]["rng"], self.device)
        if "priors_rng" in state["rank_states"][0]:
            self.priors_rng.set_state(state["rank_states"][0]["priors_rng"])


def run_distill(config: DistillConfig, resume_state: dict | None = None, quiet: bool = False) -> Path:
    """Distil to the end, the time budget or a stop request; returns the run folder."""
    if config.threads:
        torch.set_num_threads(config.threads)
    if config.load_size < config.crop_size or config.crop_size % 4:
        raise StyleCamError("--crop-size must be a multiple of 4 and not above --load-size")
    device = torch.device("cuda" if config.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if config.device == "auto" else config.device))  # fmt: skip
    say = (lambda *a, **k: None) if quiet else print
    teacher, teacher_config = load_teacher(config.teacher, config.library)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scan = scan_folder(config.photo_dir(), config.crop_size, "photos")
    distiller = Distiller(config, teacher, device, teacher_config)
    if resume_state is not None:
        distiller.load_state_dict(resume_state)
    run_dir = config.run_dir()
    say(f"distil {teacher_config.describe()} -> {distiller.student_config.describe()} on {scan.summary()}")
    dataset = SingleDomainDataset(scan.files, config.load_size, config.crop_size, config.flip, config.seed)
    loader = DataLoader(dataset, batch_sampler=StepBatchSampler(config.batch_size, distiller.step),
                        generator=torch.Generator().manual_seed(config.seed))  # fmt: skip
    sample_dir = (
        Path(config.dataroot) / "testA" if config.dataroot and (Path(config.dataroot) / "testA").is_dir() else None
    )
    sample_files = scan_folder(sample_dir).files if sample_dir else scan.files
    samples = torch.stack([load_center(p, 256, 256) for p in sample_files[:4]]).to(device)
    log = LossLog(run_dir / "losses.csv", distiller.step if resume_state else None)
    extra = {"teacher": config.teacher, "teacher_config": teacher_config.to_dict(),
             "hardware": hardware_description(device), "data": {"photos": str(scan.folder), "images": len(scan.files)}}  # fmt: skip
    ckpt = run_dir / "checkpoints" / LATEST
    sums: dict[str, float] = {}
    start = last_save = time.monotonic()
    bar = tqdm(total=config.max_steps, initial=distiller.step, disable=quiet, dynamic_ncols=True, mininterval=1)
    batches = iter(loader)
    with StopFlag() as stop:
        while distiller.step < config.max_steps and not stop.requested:
            if config.max_minutes is not None and time.monotonic() - start >= config.max_minutes * 60:
                break
            t0 = time.monotonic()
            losses = distiller.train_step(next(batches))
            distiller.train_seconds += time.monotonic() - t0
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            bar.update(1)
            step = distiller.step
            if step % config.log_every == 0 or step == config.max_steps:
                n = config.log_every if step % config.log_every == 0 else step % config.log_every
                distiller.last_losses = {k: v / n for k, v in sums.items()}
                if not all(math.isfinite(v) for v in distiller.last_losses.values()):
                    raise StyleCamError(f"losses became NaN/inf at step {step}: {distiller.last_losses}")
                sums = {}
                bar.set_postfix({k: f"{v:.3f}" for k, v in distiller.last_losses.items()}, refresh=False)
                log.write(step, {"lr": distiller.opt_s.param_groups[0]["lr"], "seconds": distiller.train_seconds,
                                 **distiller.last_losses})  # fmt: skip
            if step % config.sample_every == 0:
                _save_samples(run_dir / "samples" / f"step_{step:07d}.png", distiller, samples)
            if step % config.save_every == 0 or time.monotonic() - last_save >= config.save_minutes * 60:
                save_checkpoint(ckpt, distiller.state_dict(extra))
                last_save = time.monotonic()
    bar.close()
    save_checkpoint(ckpt, distiller.state_dict(extra))
    _save_samples(run_dir / "samples" / "latest.png", distiller, samples)
    log.close()
    say(f"saved {ckpt} at step {distiller.step}")
    if config.export and distiller.step >= config.max_steps:
        from train.export import export_run

        style = export_run(run_dir, config.export_name or config.name, library_root=config.library, evaluate=True)
        say(f"exported style {style.name!r} to {style.path}")
    return run_dir


@torch.no_grad()
def _save_samples(path: Path, distiller: Distiller, photos: torch.Tensor) -> None:
    """Rows: photos, teacher output, student output."""
    teacher_out = distiller.teacher(photos)
    distiller.teacher_tap.take()
    student_out = distiller.student(photos)
    distiller.student_tap.take()
    save_grid(path, [photos, teacher_out, student_out])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.distill", description=__doc__.splitlines()[0])
    add_config_args(parser, DistillConfig)
    parser.add_argument("--resume", nargs="?", const="auto", default=None, help="continue a distillation run")
    args = parser.parse_args(argv)
    given = given_fields(args, DistillConfig)
    try:
        state = None
        config = DistillConfig(**given)
        if args.resume:
            state = load_checkpoint(config.run_dir() if args.resume == "auto" else Path(args.resume))
            if state.get("kind") != "distill":
                raise StyleCamError("--resume needs a distillation checkpoint")
            config = DistillConfig(**state["config"])
            for key, value in given.items():
                if key in DistillConfig.RESUMABLE_CHANGES:
                    setattr(config, key, value)
                elif value != getattr(config, key):
                    raise StyleCamError(f"cannot change --{key.replace('_', '-')} when resuming")
        run_distill(config, state)
    except StyleCamError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
