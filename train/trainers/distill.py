"""`python -m train.distill --teacher STYLE --student lite ...`: train a fast generator to imitate
a slow one on photos, so a good full-size style gets a CPU twin (GAN Compression, Li et al. 2020).

Losses on the teacher's output y_t = T(x) for photos x:
- pixel: L1(S(x), y_t) x lambda_pixel (10);
- feature distillation: MSE between 1x1-conv-adapted student features and teacher features at
  matching depths of the residual trunk (1/3, 2/3, end) x lambda_feature (1);
- adversarial (LSGAN): a PatchGAN tells teacher outputs (real) from student outputs x lambda_gan (1);
- the webcam priors of train/losses/webcam_losses.py (through train/losses/priors.py): structure keeping x
  lambda_structure, transformation consistency x lambda_consistency and texture energy x
  lambda_texture (0 = off), and the grid-pattern penalty of train/losses/stride_pattern.py x lambda_grid;
- PatchNCE (CUT's content term, train/losses/patch_nce.py) between the photo and the student's output on
  the student's own encoder features x lambda_nce (0 = off);
- the palette term (train/losses/palette_swd.py): sliced Wasserstein distance from the output's
  pyramid patches to a batch of training paintings' x lambda_palette (0 = off), the one term that
  pulls colour towards the paintings rather than the teacher.
With --teacher-colour a new student ends with the teacher's palette map (copied) and colour guard,
so only the strokes are learned (the first Monet twin, learning colour itself, turned a yellow
hoodie magenta). With --fine-tune the student starts as a copy of the teacher (a library style, palette map and
colour guard included): that is how a shipped style is retrained to keep faces and hold still,
with the pixel loss on --pixel-pool-averaged images so it keeps the style's colours and leaves
the fine structure to the priors.
Single process (DDP is for `python -m train`); the config base, resume path and run loop are
the CycleGAN trainer's (train/trainers/config.py, train/trainers/loop.py), so checkpoints, --resume and export
work as there.
"""

from __future__ import annotations

import copy
import itertools
import math
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from models.discriminator import PatchDiscriminator
from models.errors import StyleCamError
from models.lite_generator import SeparableResBlock
from models.registry import GeneratorConfig, create_generator
from models.resnet_generator import ResnetBlock
from models.style_library import StyleLibrary
from train.losses.adversarial import GAN_LOSSES
from train.losses.patch_nce import EncoderTap, PatchNCE, feature_channels
from train.losses.priors import PriorInputs, weighted_priors
from train.stages.run_state import run_generators
from train.trainers.checkpoint import (
    CHECKPOINT_FORMAT,
    capture_rng,
    cpu_state_dict,
    load_checkpoint,
    restore_models,
    restore_optimizers,
    restore_rng,
)
from train.trainers.config import DistillConfig
from train.trainers.data import SingleDomainDataset, StepBatchSampler, load_center, scan_folder
from train.trainers.distributed import pick_device
from train.trainers.loop import (
    build_parser,
    cli,
    hardware_description,
    init_weights,
    lr_factor,
    run_loop,
    sync_schedule,
)
from train.trainers.progress import save_grid
from train.trainers.widen import widen_generator

__all__ = ["DistillConfig", "Distiller", "load_teacher", "main", "run_distill"]

FEATURE_DEPTHS = (1 / 3, 2 / 3, 1.0)
BLOCK_TYPES = (ResnetBlock, SeparableResBlock)


def load_teacher(spec: str, library: str | None = None) -> tuple[nn.Module, GeneratorConfig]:
    """A library style, a weights file, or the exported generator of a training run folder or
    checkpoint (a recipe's previous stage)."""
    if not spec:
        raise StyleCamError("--teacher is required (a style name, weights file or run folder)")
    path = Path(spec)
    if path.is_dir() or (path.suffix == ".pt" and path.is_file()):
        model, _, config = run_generators(load_checkpoint(path))
        return model, config
    model, style = StyleLibrary(Path(library) if library else None).load(spec)
    return model, style.config


def copy_palette(teacher: nn.Module, student: nn.Module) -> None:
    """Give a new student the teacher's fitted palette map (--teacher-colour: the student has one
    only when the teacher has), fixed as in the teacher; init_weights has just overwritten it."""
    if getattr(student, "palette", None) is None:
        return
    student.palette.load_state_dict(teacher.palette.state_dict())
    student.palette.requires_grad_(False)


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
            if self.student_config == teacher_config:
                self.student = copy.deepcopy(self.teacher).train()
            else:
                self.student = widen_generator(self.teacher, self.student_config, config.seed).train()
            for name, p in self.student.named_parameters():  # the palette map stays fixed, as in training
                p.requires_grad_(not name.startswith("palette."))
        else:
            self.student = init_weights(create_generator(self.student_config)).to(self.device).train()
            copy_palette(self.teacher, self.student)
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
                    eye = torch.eye(adapter.out_channels, adapter.in_channels)  # a widened student's new channels: 0
                    adapter.weight.copy_(eye.view_as(adapter.weight))
                    adapter.bias.zero_()
        self.nce_tap, self.nce = None, None
        if config.lambda_nce > 0:
            self.nce_tap = EncoderTap(self.student)
            self.nce = init_weights(PatchNCE(feature_channels(self.nce_tap, self.device))).to(self.device).train()
            self.student_tap.take()  # the probe's trunk features
        self.disc = init_weights(PatchDiscriminator(3, config.ndf)).to(self.device).train()
        betas = (config.beta1, 0.999)
        heads = self.nce.parameters() if self.nce is not None else ()
        trained = itertools.chain(self.student.parameters(), self.adapters.parameters(), heads)
        self.opt_s = torch.optim.Adam(
            [p for p in trained if p.requires_grad],
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

    def lr(self) -> float:
        return self.opt_s.param_groups[0]["lr"]

    def _stepped_schedulers(self) -> dict:
        """The schedulers that follow the step: the discriminator's only when there is a GAN loss."""
        return {k: s for k, s in self.schedulers.items() if k == "S" or self.config.lambda_gan > 0}

    def train_step(self, photos: torch.Tensor, paintings: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        cfg = self.config
        x = photos.to(self.device)
        paintings = paintings.to(self.device) if paintings is not None else None
        with torch.no_grad():
            target = self.teacher(x)
            t_feats = self.teacher_tap.take()
        out, in_feats = self.nce_tap.run(x) if self.nce_tap is not None else (self.student(x), None)
        s_feats = self.student_tap.take()
        pool = cfg.pixel_pool
        loss_pixel = F.l1_loss(F.avg_pool2d(out, pool), F.avg_pool2d(target, pool)) * cfg.lambda_pixel
        loss_feat = sum(F.mse_loss(a(s), t) for a, s, t in zip(self.adapters, s_feats, t_feats, strict=True))
        loss_feat = loss_feat * cfg.lambda_feature
        inputs = PriorInputs(
            photo=x, styled=out, config=cfg, reference=target, generator=self.student, rng=self.priors_rng,
            paintings=paintings,
        )  # fmt: skip
        priors = weighted_priors(cfg, inputs, self.device)
        loss_nce = torch.zeros((), device=self.device)
        if self.nce is not None:
            loss_nce = self.nce(self.nce_tap.encode(out), in_feats) * cfg.lambda_nce
        self.student_tap.take()  # a prior's second forward (consistency) and the NCE encoding are not distilled
        loss_s = loss_pixel + loss_feat + loss_nce + sum(priors.values())
        loss_g = loss_d = torch.zeros((), device=self.device)
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
        for scheduler in self._stepped_schedulers().values():
            scheduler.step()
        self.step += 1
        losses = {"pixel": loss_pixel, "feature": loss_feat, **priors, "nce": loss_nce, "G": loss_g, "D": loss_d}
        return {k: v.detach() for k, v in losses.items()}

    def trained_modules(self) -> dict[str, nn.Module]:
        """What a checkpoint stores and a resume loads, by name (PatchNCE's heads when it is on)."""
        modules = {"student": self.student, "adapters": self.adapters, "D": self.disc}
        return {**modules, "nce": self.nce} if self.nce is not None else modules

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
            "models": {name: cpu_state_dict(m) for name, m in self.trained_modules().items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "rank_states": [{"rng": capture_rng(self.device), "priors_rng": self.priors_rng.get_state()}],
            **extra,
        }

    def load_state_dict(self, state: dict, source: str = "checkpoint") -> None:
        saved = GeneratorConfig.from_dict(state["generator_config"])
        if saved != self.student_config:
            raise StyleCamError(f"{source}: student is {saved.describe()}, not {self.student_config.describe()}")
        restore_models(self.trained_modules(), state, source, "distillation setup")
        restore_optimizers(self.optimizers, self.schedulers, state)
        self.step, self.train_seconds = int(state["step"]), float(state["train_seconds"])
        sync_schedule(self._stepped_schedulers(), self.step, source)
        self.last_losses = dict(state.get("last_losses", {}))
        restore_rng(state["rank_states"][0]["rng"], self.device)
        if "priors_rng" in state["rank_states"][0]:
            self.priors_rng.set_state(state["rank_states"][0]["priors_rng"])


def run_distill(config: DistillConfig, resume_state: dict | None = None, quiet: bool = False) -> Path:
    """Distil to the end, the time budget or a stop request; returns the run folder."""
    config.validate()
    if config.threads:
        torch.set_num_threads(config.threads)
    device = pick_device(config.device)
    say = (lambda *a, **k: None) if quiet else print
    teacher, teacher_config = load_teacher(config.teacher, config.library)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scans = [scan_folder(folder, config.crop_size, "photos") for folder in config.photo_dirs()]
    distiller = Distiller(config, teacher, device, teacher_config)
    if resume_state is not None:
        distiller.load_state_dict(resume_state, "resume checkpoint")
    run_dir = config.run_dir()
    summary = " + ".join(scan.summary() for scan in scans)
    say(f"distil {teacher_config.describe()} -> {distiller.student_config.describe()} on {summary}")
    repeats = config.photo_repeats(len(scans[0].files), sum(len(scan.files) for scan in scans[1:]))
    files = scans[0].files * repeats + tuple(f for scan in scans[1:] for f in scan.files)
    dataset = SingleDomainDataset(
        files, config.load_size, config.crop_size, config.flip, config.seed, config.min_load_size()
    )
    loader = DataLoader(dataset, batch_sampler=StepBatchSampler(config.batch_size, distiller.step),
                        generator=torch.Generator().manual_seed(config.seed))  # fmt: skip
    sample_dir = (
        Path(config.dataroot) / "testA" if config.dataroot and (Path(config.dataroot) / "testA").is_dir() else None
    )
    sample_files = scan_folder(sample_dir).files if sample_dir else files
    samples = torch.stack([load_center(p, 256, 256) for p in sample_files[:4]]).to(device)
    batches = iter(loader)
    if config.lambda_palette > 0:
        batches = zip(batches, _painting_batches(config, distiller.step), strict=False)
    extra = {"teacher": config.teacher, "teacher_config": teacher_config.to_dict(),
             "hardware": hardware_description(device), "data": {"photos": " + ".join(str(scan.folder) for scan in scans), "images": len(files), "photo_repeats": repeats}}  # fmt: skip
    run_loop(
        distiller, config, config.max_steps, batches, lambda: distiller.state_dict(extra),
        lambda path: _save_samples(path, distiller, samples), resumed=resume_state is not None, device=device,
        quiet=quiet,
    )  # fmt: skip
    return run_dir


def _painting_batches(config: DistillConfig, start_step: int) -> Iterator[torch.Tensor]:
    """Endless batches of training-painting crops for the palette term, resumable by step."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scan = scan_folder(config.painting_dir(), config.crop_size, "paintings")
    dataset = SingleDomainDataset(scan.files, config.load_size, config.crop_size, config.flip, config.seed + 7)
    return iter(DataLoader(dataset, batch_sampler=StepBatchSampler(config.palette_batch, start_step)))


@torch.no_grad()
def _save_samples(path: Path, distiller: Distiller, photos: torch.Tensor) -> None:
    """Rows: photos, teacher output, student output."""
    teacher_out = distiller.teacher(photos)
    distiller.teacher_tap.take()
    student_out = distiller.student(photos)
    distiller.student_tap.take()
    save_grid(path, [photos, teacher_out, student_out])


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(DistillConfig, "python -m train.distill", __doc__.splitlines()[0])
    return cli(argv, parser, DistillConfig, "distill", run_distill)


if __name__ == "__main__":
    raise SystemExit(main())
