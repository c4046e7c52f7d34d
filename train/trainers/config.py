"""Typed training configs and the command lines built from them.

`RunConfig` holds what every run has (where it goes, its data root, the optimiser's schedule, the
step loop's budget and cadence, the export at the end); `TrainConfig` (CycleGAN) and
`DistillConfig` (distillation and the webcam fine-tune) add their own fields. Every option is a
dataclass field with its help text in the field metadata; `add_config_args` turns the fields into
argparse options and `given_fields` returns only what the user typed, so a resumed run can tell
an explicit change from a default. No global options object exists.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

from models.errors import StyleCamError
from models.lite_generator import DECODER_NORMS
from models.registry import PRESETS, GeneratorConfig
from models.style_library import usable_style_name

GAN_LOSSES = ("lsgan", "vanilla", "wgangp", "hinge")
AMP_MODES = ("auto", "bf16", "fp16", "off")
DEFAULT_NAME = "style"
ADAM_BETA2 = 0.999  # the paper's; --beta2 was never changed in a recorded run and was taken out
# The reference CycleGAN's constants that were options here until no run, recipe or test changed
# them (docs/training-notes.md): the trainers use these values; an old checkpoint's are ignored.
PAPER_CONSTANTS: dict[str, Any] = {"d_layers": 3, "beta2": ADAM_BETA2, "init_gain": 0.02}


def _opt(default: Any, help: str, choices: tuple | None = None, **extra: Any) -> Any:
    meta = {"help": help, **extra}
    if choices:
        meta["choices"] = choices
    return field(default=default, metadata=meta)


@dataclass
class RunConfig:
    """What every training run has (stored inside its checkpoints, as `config`)."""

    name: str = _opt(DEFAULT_NAME, "run and style name; the run goes to runs/NAME unless --out is given")
    dataroot: str | None = _opt(None, "folder with trainA/ (photos) and trainB/ (style), optionally testA/ testB/")
    out: str | None = _opt(None, "run folder (default runs/NAME)")
    lr: float = _opt(2e-4, "Adam learning rate")
    beta1: float = _opt(0.5, "Adam beta1")
    max_steps: int | None = _opt(None, "total training steps (sets the LR schedule's length)")
    decay_fraction: float = _opt(0.5, "last fraction of the steps over which the LR decays linearly to 0")
    max_minutes: float | None = _opt(None, "stop (and checkpoint) after this many minutes of this session")
    batch_size: int = _opt(1, "images per step (per domain and process for CycleGAN)")
    load_size: int = _opt(286, "resize the short side to this before cropping")
    crop_size: int = _opt(256, "random square crop used for training")
    flip: bool = _opt(True, "random horizontal flips")
    seed: int = _opt(0, "random seed (data order, crops, init, pools)")
    device: str = _opt("auto", "auto, cpu, cuda or cuda:N")
    threads: int | None = _opt(None, "torch CPU threads for this process")
    log_every: int = _opt(10, "steps between CSV rows / progress-bar loss updates")
    sample_every: int = _opt(200, "steps between sample grid PNGs")
    save_every: int = _opt(500, "steps between checkpoints")
    snapshot_every: int = _opt(
        0, "also keep a checkpoint file per this many steps, to pick from later (0 = only latest)"
    )
    save_minutes: float = _opt(10.0, "also checkpoint when this many minutes passed since the last one")
    export: bool = _opt(True, "export the trained generator into the style library when training finishes")
    export_name: str | None = _opt(None, "style name for the export (default NAME)")
    library: str | None = _opt(None, "style library folder (default: your user library, or $STYLECAM_WEIGHTS)")

    # Options that may change when a run is resumed; everything else must match the checkpoint.
    # decay_fraction is among them so a finished run can be continued with a gentle (not a
    # full-LR) restart of its schedule.
    RESUMABLE_CHANGES: ClassVar[frozenset[str]] = frozenset(
        {"max_steps", "decay_fraction", "max_minutes", "device", "threads", "log_every", "sample_every",
         "save_every", "snapshot_every", "save_minutes", "export", "export_name", "library", "out"}
    )  # fmt: skip
    # Options this trainer had and lost (docs/training-notes.md keeps what they did), with their
    # old defaults: an old checkpoint that used one is still read, with a warning that it is ignored.
    REMOVED_OPTIONS: ClassVar[dict[str, Any]] = {}

    def run_dir(self) -> Path:
        return Path(self.out) if self.out else Path("runs") / self.name

    def style_name(self) -> str:
        """The name a finished run is exported under: --export-name, else --name; with only --out
        given, the run folder's name, so `--out runs/ukiyoe_v2` does not export as 'style'."""
        if self.export_name:
            return self.export_name
        default = type(self).__dataclass_fields__["name"].default
        if self.out and self.name == default:
            return usable_style_name(Path(self.out).name) or default
        return self.name

    def twin_of(self) -> str | None:
        """The library style a finished run is exported as the fast twin of (None: its own style)."""
        return None

    def validate(self) -> None:
        if self.crop_size < 16 or self.crop_size % 4:
            raise StyleCamError(f"--crop-size {self.crop_size} must be a multiple of 4 and at least 16")
        if self.load_size < self.crop_size:
            raise StyleCamError(f"--load-size {self.load_size} is smaller than --crop-size {self.crop_size}")
        if self.batch_size < 1:
            raise StyleCamError("--batch-size must be >= 1")
        if not 0.0 <= self.decay_fraction <= 1.0:
            raise StyleCamError(f"--decay-fraction {self.decay_fraction} must be between 0 and 1")
        if self.max_steps is not None and self.max_steps < 1:
            raise StyleCamError("--max-steps must be at least 1")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Self:
        """The config stored in a checkpoint. Keys this class does not know are dropped; a removed
        option that the run used (not at its old default) gets a warning saying it is ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        lost = {k: v for k, v in data.items() if k in cls.REMOVED_OPTIONS and v != cls.REMOVED_OPTIONS[k]}
        if lost:
            listed = ", ".join(f"{k}={v!r}" for k, v in lost.items())
            warnings.warn(
                f"this run was trained with {listed}, which the trainer no longer has (see "
                "docs/training-notes.md); it goes on without",
                stacklevel=2,
            )
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def for_resume(cls, saved: dict, given: dict) -> Self:
        """The checkpoint's config with the allowed changes; a conflicting change is an error."""
        config = cls.from_dict(saved)
        for key, value in given.items():
            if key in cls.RESUMABLE_CHANGES:
                setattr(config, key, value)
            elif value != getattr(config, key):
                raise StyleCamError(
                    f"cannot change --{key.replace('_', '-')} when resuming (checkpoint has {getattr(config, key)!r}, "
                    f"got {value!r}); start a new run with another --name instead"
                )
        return config


@dataclass
class TrainConfig(RunConfig):
    """Everything that defines a CycleGAN training run."""

    max_steps: int | None = _opt(None, "total training steps (sets the LR schedule's length; default: --epochs)")
    data_a: str | None = _opt(None, "folder of domain A images (photos); overrides DATAROOT/trainA")
    data_b: str | None = _opt(None, "folder of domain B images (the style); overrides DATAROOT/trainB")
    generator: str = _opt("lite", "generator preset", choices=tuple(PRESETS))
    ngf: int | None = _opt(None, "override the preset's first-layer width")
    n_blocks: int | None = _opt(None, "override the preset's number of residual blocks")
    decoder_norm: str = _opt(
        "instance",
        "lite generators: how the decoder's upsampling stages are normalised: per image (instance, "
        "as in CycleGAN) or by weight demodulation (demod: no image statistics, so no droplet blobs)",
        choices=DECODER_NORMS,
    )
    ndf: int = _opt(64, "discriminator first-layer width")
    gan_loss: str = _opt("lsgan", "adversarial loss", choices=GAN_LOSSES)
    lambda_cycle: float = _opt(10.0, "weight of the cycle-consistency L1 loss")
    lambda_identity: float = _opt(0.5, "identity loss weight, as a fraction of lambda_cycle")
    cycle_blur: float = _opt(
        0.0,
        "sigma in pixels of a Gaussian blur applied to a translated image before it is translated "
        "back: a hatching or halftone code below that scale no longer helps the cycle loss, so the "
        "generator has no reason to paint one (0 = off; 1.5 removes 94%% of a period-4 pattern)",
    )
    lambda_grid: float = _opt(
        0.0,
        "weight of the penalty on grid-locked period-4 patterns in translated images (the "
        "hatching a small generator paints into flat regions; see train/losses/stride_pattern.py)",
    )
    lambda_tv: float = _opt(
        0.0,
        "weight of an L1 total-variation penalty on the photo->style output: it favours flat fills "
        "between crisp edges (woodblock prints) over the busy grain a small generator paints into "
        "them; 0 = off",
    )
    lambda_flat_texture: float = _opt(
        0.0,
        "weight of an L1 total-variation penalty on the photo->style output that only counts where "
        "the photo itself is flat (each difference weighted by exp(-|photo difference| / 0.05)), "
        "aimed at ringing beside edges and streaks painted into skies; it spares the photo's own "
        "edges and textures, but also a style's strokes there (docs/training-notes.md); 0 = off",
    )
    lambda_colour_fit: float = _opt(
        0.0,
        "weight of the colour-blotch penalty on the photo->style output: the L1 residual of the "
        "best per-image linear map from the photo's 8x8-block colours to the output's, so a global "
        "palette and fine brushwork are free and colour patches the photo does not explain (a "
        "grey sky painted green in places) are not (see train/losses/image_priors.py); 0 = off",
    )
    lambda_hue_keep: float = _opt(
        0.0,
        "weight of the hue-keeping penalty on the photo->style output: like --lambda-colour-fit, but "
        "the per-image map may only change lightness, tint everything and scale saturation, so "
        "regions cannot swap hues (green fields painted red-brown under a blue sky); 0 = off",
    )
    lambda_spike: float = _opt(
        0.0,
        "weight of the penalty on feature-map spikes above 10 standard deviations at the "
        "generators' instance norms, the cause of bright/dark droplet blobs (see "
        "train/losses/spike_penalty.py); 0 = off",
    )
    ema_decay: float = _opt(
        0.0,
        "keep an exponential moving average of the generators' weights with this decay per step "
        "(e.g. 0.999); samples, evaluation and the export use it, and it has less of the "
        "step-to-step flicker that shows up as blotches and busy texture (0 = off)",
    )
    gp_weight: float = _opt(10.0, "gradient-penalty weight (wgangp)")
    n_critic: int = _opt(5, "discriminator updates per generator update (wgangp)")
    pool_size: int = _opt(50, "image pool size for the discriminators (0 = none)")
    epochs: int = _opt(200, "total epochs (an epoch = max(|A|, |B|) images); ignored with --max-steps")
    amp: str = _opt("auto", "CUDA mixed precision (auto = bf16 where supported)", choices=AMP_MODES)
    workers: int | None = _opt(None, "DataLoader workers (default 4 on CUDA, 0 on CPU)")

    # The loss weights (train/losses/priors.py) may change on resume, so a trained run can be fine-tuned
    # with a texture or colour prior or the droplet penalty; ema_decay too (with decay_fraction, a
    # finished run continues with an average and a gentle restart of its schedule).
    RESUMABLE_CHANGES: ClassVar[frozenset[str]] = RunConfig.RESUMABLE_CHANGES | frozenset(
        {"epochs", "amp", "workers", "lambda_grid", "lambda_tv", "lambda_flat_texture", "lambda_colour_fit",
         "lambda_hue_keep", "lambda_spike", "ema_decay"}
    )  # fmt: skip
    # Lost options: the generator-side ones (global_tone, norm_clip) stay in GeneratorConfig, so
    # styles that carry them still load; only training with them is gone.
    REMOVED_OPTIONS: ClassVar[dict[str, Any]] = {
        "global_tone": False,  # helped only the retired instance-norm Ukiyo-e
        "tone_only": False,
        "norm_clip": 0.0,  # capped styles retired; fine-tuning under the cap not shipped
        "cycle_noise": 0.0,  # did not stop the patterns
        "dark_style_fraction": 0.0,  # cleared night skies, worse everywhere else
        "hue_keep_min_saturation": 0.0,  # its runs were not shipped
        "spike_sigma": 10.0,  # a lower threshold drifted the colours
        **PAPER_CONSTANTS,  # never varied: 70x70 PatchGAN, Adam beta2 0.999, N(0, 0.02) init
    }

    def generator_config(self) -> GeneratorConfig:
        base = PRESETS[self.generator]
        return dataclasses.replace(
            base,
            ngf=self.ngf if self.ngf is not None else base.ngf,
            n_blocks=self.n_blocks if self.n_blocks is not None else base.n_blocks,
            decoder_norm=self.decoder_norm,
        )

    def domain_dirs(self) -> tuple[Path, Path]:
        """Training folders for A and B; a clear error when neither form was given."""
        root = Path(self.dataroot) if self.dataroot else None
        a = Path(self.data_a) if self.data_a else (root / "trainA" if root else None)
        b = Path(self.data_b) if self.data_b else (root / "trainB" if root else None)
        if a is None or b is None:
            raise StyleCamError("no training data: give --dataroot DIR (with trainA/ trainB/) or --data-a and --data-b")
        return a, b

    def test_dirs(self) -> tuple[Path, Path] | None:
        """DATAROOT/testA and testB when both exist (used for samples and the final evaluation)."""
        if not self.dataroot:
            return None
        a, b = Path(self.dataroot) / "testA", Path(self.dataroot) / "testB"
        return (a, b) if a.is_dir() and b.is_dir() else None

    def validate(self) -> None:
        super().validate()
        if self.decoder_norm != "instance" and PRESETS[self.generator].arch not in ("lite", "lite_hq"):
            raise StyleCamError(f"--decoder-norm is for the lite generators, not {self.generator}")
        if self.n_critic < 1 or self.pool_size < 0:
            raise StyleCamError("--n-critic must be >= 1 and --pool-size >= 0")
        if self.cycle_blur < 0:
            raise StyleCamError("--cycle-blur must be >= 0 (0 = off)")
        if not 0.0 <= self.ema_decay < 1.0:
            raise StyleCamError(f"--ema-decay {self.ema_decay} must be in [0, 1) (0 = off, e.g. 0.999)")


@dataclass
class DistillConfig(RunConfig):
    """Everything that defines a distillation run, or a webcam fine-tune of a finished style."""

    name: str = _opt("distilled", "run and style name; the run goes to runs/NAME unless --out is given")
    dataroot: str | None = _opt(None, "folder with trainA/ (photos); testA/ testB/ are used for samples/evaluation")
    max_steps: int = _opt(5000, "total steps (sets the LR schedule's length)")
    teacher: str = _opt("", "teacher: a library style name, a weights file, or a training run folder")
    data: str | None = _opt(None, "folder of photos (overrides DATAROOT/trainA)")
    extra_photos: str | None = _opt(
        None, "a second folder of photos mixed in with the first (e.g. webcam_photos/trainA: faces and rooms)"
    )
    extra_share: float = _opt(
        0.0,
        "the share of training crops drawn from --extra-photos (0 = as the folders' sizes give it); the first "
        "folder's photos are repeated to bring the extra ones down to about this share, never below it",
    )
    min_scale: float = _opt(
        1.0,
        "resize each photo's short side to a random size from MIN_SCALE x --load-size (never below --crop-size) "
        "up to --load-size before cropping, so that faces come as small as a webcam frames them (1 = always --load-size)",
    )
    student: str = _opt("lite", "student generator preset", choices=tuple(PRESETS))
    ngf: int | None = _opt(
        None,
        "override the student preset's width; with --fine-tune, a larger width than the teacher's starts the student "
        "as a widened copy of it (train/trainers/widen.py: the same picture, new channels to train)",
    )
    n_blocks: int | None = _opt(None, "override the student preset's residual blocks")
    fine_tune: bool = _opt(
        False, "start the student as a copy of the teacher (architecture and weights): fine-tune a style"
    )
    teacher_colour: bool = _opt(
        False,
        "end a new student with its teacher's colour stages: the fitted palette map (copied, fixed) and the colour "
        "guard, so it learns the teacher's strokes and takes its colours by the same arithmetic",
    )
    colour_guard: int | None = _opt(
        None, "the student's colour guard block in pixels (models/colour_guard.py; 0 = off; default: as set above)"
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
        "weight of the structure-keeping prior: the output's luma edges follow the photo's (train/losses/webcam_losses.py)",
    )
    lambda_consistency: float = _opt(
        0.0,
        "weight of the transformation-consistency prior: G(T(x)+noise) close to T(G(x)) (train/losses/webcam_losses.py)",
    )
    lambda_texture: float = _opt(
        0.0,
        "weight of the texture-energy prior: as much fine detail per 8x8 cell as the teacher's output (fine-tuning)",
    )
    lambda_nce: float = _opt(
        0.0,
        "weight of PatchNCE between the photo and the student's output, on the student's own encoder "
        "features (train/losses/patch_nce.py; CUT's content term): keeps faces where gradients alone do not",
    )
    texture_levels: int = _opt(
        1, "octaves the texture-energy prior compares (1 = the finest only; 2 adds the strokes a few pixels wide)"
    )
    lambda_grid: float = _opt(
        0.0,
        "weight of the penalty on grid-locked period-4 patterns in the student's output "
        "(train/losses/stride_pattern.py): what a stronger structure prior grows in a fine-tune",
    )
    lambda_palette: float = _opt(
        0.0,
        "weight of the palette term: sliced Wasserstein distance from the output's pyramid patches to the "
        "training paintings' (train/losses/palette_swd.py): pulls colour towards the paintings, not the teacher",
    )
    lambda_faces: float = _opt(
        0.0,
        "weight of the face term: the evaluation's face structure on the faces found in each training photo "
        "(train/losses/face_structure.py): keeps eyes, noses and mouths where the structure prior sees a room",
    )
    paintings: str | None = _opt(None, "folder of paintings for the palette term (default DATAROOT/trainB)")
    palette_batch: int = _opt(4, "paintings per step for the palette term")
    palette_levels: int = _opt(
        0, "pyramid levels the palette term compares, coarsest first (0 = all; 2 = the colour and broad strokes)"
    )
    consistency_shift: int = _opt(4, "the consistency prior's largest shift T, in whole pixels")
    consistency_noise: float = _opt(0.02, "the consistency prior's largest sensor-noise std, in [-1, 1] units")

    def student_config(self, teacher: GeneratorConfig | None = None) -> GeneratorConfig:
        if self.fine_tune:
            if teacher is None:
                raise StyleCamError("--fine-tune needs the teacher's architecture")
            if self.ngf is None or self.ngf == teacher.ngf:
                return teacher
            if self.ngf < teacher.ngf:
                raise StyleCamError(
                    f"--ngf {self.ngf}: a fine-tune can widen the teacher (ngf {teacher.ngf}), not narrow it"
                )
            return dataclasses.replace(teacher, ngf=self.ngf)
        base = PRESETS[self.student]
        config = dataclasses.replace(
            base,
            ngf=self.ngf if self.ngf is not None else base.ngf,
            n_blocks=self.n_blocks if self.n_blocks is not None else base.n_blocks,
        )
        if self.teacher_colour:
            if teacher is None:
                raise StyleCamError("--teacher-colour needs the teacher's architecture")
            config = dataclasses.replace(config, palette=teacher.palette, colour_guard=teacher.colour_guard)
        if self.colour_guard is not None:
            config = dataclasses.replace(config, colour_guard=self.colour_guard)
        return config

    def twin_of(self) -> str | None:
        """A new lite_fast student of a library style is attached to it as its fast twin; as a style
        of its own under the run's name (`--out runs/monet`) it would shadow its teacher. An
        explicit --export-name still gives a style of its own."""
        if self.fine_tune or self.export_name or PRESETS[self.student].arch != "lite_fast":
            return None
        spec = Path(self.teacher)
        return None if spec.is_dir() or spec.suffix in (".pt", ".safetensors") else self.teacher

    def photo_dir(self) -> Path:
        if self.data:
            return Path(self.data)
        if self.dataroot:
            return Path(self.dataroot) / "trainA"
        raise StyleCamError("no photos: give --dataroot DIR (with trainA/) or --data DIR")

    def photo_dirs(self) -> list[Path]:
        """The photo folders a step draws from: the photos, then --extra-photos."""
        return [self.photo_dir(), *([Path(self.extra_photos)] if self.extra_photos else [])]

    def photo_repeats(self, photos: int, extra: int) -> int:
        """How many times the first folder's `photos` go into an epoch beside `extra` photos, so the
        extra ones make about --extra-share of it (1 when the share is off or already lower)."""
        if not self.extra_share or not photos or not extra:
            return 1
        return max(1, math.floor(extra * (1 - self.extra_share) / (self.extra_share * photos)))

    def min_load_size(self) -> int:
        """The smallest short side a photo is drawn at (--min-scale of --load-size, not below the crop)."""
        return max(self.crop_size, round(self.min_scale * self.load_size))

    def painting_dir(self) -> Path:
        if self.paintings:
            return Path(self.paintings)
        if self.dataroot:
            return Path(self.dataroot) / "trainB"
        raise StyleCamError("the palette term needs paintings: give --dataroot DIR (with trainB/) or --paintings DIR")

    def validate(self) -> None:
        super().validate()
        if self.palette_batch < 1 or self.palette_levels < 0:
            raise StyleCamError("--palette-batch must be >= 1 and --palette-levels >= 0")
        if not 0.0 < self.min_scale <= 1.0:
            raise StyleCamError(f"--min-scale {self.min_scale} must be in (0, 1]")
        if not 0.0 <= self.extra_share < 1.0 or (self.extra_share and not self.extra_photos):
            raise StyleCamError(f"--extra-share {self.extra_share} must be in [0, 1) and needs --extra-photos")
        if self.pixel_pool < 1 or self.texture_levels < 1 or self.consistency_shift < 0 or self.consistency_noise < 0:
            raise StyleCamError(
                "--pixel-pool and --texture-levels must be >= 1, --consistency-shift and --consistency-noise >= 0"
            )


# -- dataclass -> argparse ---------------------------------------------------------------
def _base_type(annotation: Any) -> tuple[type, bool]:
    """(scalar type, optional) for `int`, `int | None`, ..."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return inner[0], True
    return annotation, False


def field_types(cls: type) -> dict[str, type]:
    """Each field's scalar type (`int` for `int | None`)."""
    hints = typing.get_type_hints(cls)
    return {f.name: _base_type(hints[f.name])[0] for f in dataclasses.fields(cls)}


def add_config_args(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    """One option per field: `--crop-size`, bools as `--flip/--no-flip`. Defaults are suppressed
    so `given_fields` can tell what the user actually typed."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip or "help" not in f.metadata:
            continue
        flag = "--" + f.name.replace("_", "-")
        typ, _ = _base_type(hints[f.name])
        help_text = f"{f.metadata['help']} (default: {f.default})"
        if typ is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text)
        else:
            parser.add_argument(
                flag, type=typ, default=argparse.SUPPRESS, choices=f.metadata.get("choices"), help=help_text
            )


def given_fields(args: argparse.Namespace, cls: type) -> dict:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in vars(args).items() if k in names}


@dataclass
class CutConfig(RunConfig):
    """Everything that defines a CUT / FastCUT run (Park et al. 2020): one generator, one PatchGAN,
    PatchNCE on the generator's own encoder features (train/trainers/cut.py)."""

    max_steps: int | None = _opt(None, "total training steps (sets the LR schedule's length; default: --epochs)")
    data_a: str | None = _opt(None, "folder of domain A images (photos); overrides DATAROOT/trainA")
    data_b: str | None = _opt(None, "folder of domain B images (the style); overrides DATAROOT/trainB")
    generator: str = _opt("lite_hq", "generator preset", choices=tuple(PRESETS))
    ngf: int | None = _opt(None, "override the preset's first-layer width")
    n_blocks: int | None = _opt(None, "override the preset's number of residual blocks")
    decoder_norm: str = _opt(
        "demod", "lite generators: the decoder's normalisation (as in python -m train)", choices=DECODER_NORMS
    )
    ndf: int = _opt(64, "discriminator first-layer width")
    fast: bool = _opt(False, "FastCUT: lambda_nce 10 and no identity NCE (unless those are given)")
    lambda_gan: float = _opt(1.0, "weight of the LSGAN generator loss")
    lambda_nce: float | None = _opt(None, "weight of the PatchNCE loss (default 1 for CUT, 10 with --fast)")
    nce_idt: bool | None = _opt(None, "identity NCE on style images (default on for CUT, off with --fast)")
    nce_patches: int = _opt(256, "patches sampled per layer and image for PatchNCE")
    nce_temperature: float = _opt(0.07, "PatchNCE softmax temperature")
    nce_dim: int = _opt(256, "width of the PatchNCE projection heads")
    nce_pixels: bool = _opt(
        True, "PatchNCE also compares the raw pixels (the paper's first layer); off leaves colours free to move"
    )
    init: str | None = _opt(
        None, "start the generator as this style (library name, weights file or run folder): fine-tune it"
    )
    lambda_grid: float = _opt(
        0.0, "weight of the penalty on grid-locked period-4 patterns (train/losses/stride_pattern.py)"
    )
    epochs: int = _opt(200, "total epochs (an epoch = max(|A|, |B|) images); ignored with --max-steps")

    RESUMABLE_CHANGES: ClassVar[frozenset[str]] = RunConfig.RESUMABLE_CHANGES | frozenset({"epochs"})
    REMOVED_OPTIONS: ClassVar[dict[str, Any]] = dict(PAPER_CONSTANTS)

    # The generator and data fields mean what they mean for CycleGAN: the same methods.
    generator_config = TrainConfig.generator_config
    domain_dirs = TrainConfig.domain_dirs
    test_dirs = TrainConfig.test_dirs

    def nce_weight(self) -> float:
        if self.lambda_nce is not None:
            return self.lambda_nce
        return 10.0 if self.fast else 1.0

    def identity_nce(self) -> bool:
        return self.nce_idt if self.nce_idt is not None else not self.fast

    def validate(self) -> None:
        super().validate()
        if self.decoder_norm != "instance" and PRESETS[self.generator].arch not in ("lite", "lite_hq"):
            raise StyleCamError(f"--decoder-norm is for the lite generators, not {self.generator}")
        if self.nce_patches < 1 or self.nce_dim < 1 or self.nce_temperature <= 0:
            raise StyleCamError("--nce-patches and --nce-dim must be >= 1, --nce-temperature > 0")
