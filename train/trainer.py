"""CycleGAN training (Zhu et al. 2017): two generators, two 70x70 PatchGANs, cycle and identity
losses, image pools, Adam with a constant-then-linear-decay schedule.

`CycleGANTrainer` holds the models, optimisers and per-step logic and can save/restore its
complete state; `run_training` adds data, progress, samples, checkpoints and the export;
`main` is `python -m train`. Under `torchrun` every model is wrapped in DistributedDataParallel.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import math
import platform
import signal
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from torchvision.transforms.v2.functional import gaussian_blur
from tqdm import tqdm

from models.discriminator import PatchDiscriminator
from models.errors import StyleCamError
from models.registry import GeneratorConfig, create_generator
from train.checkpoint import (
    CHECKPOINT_FORMAT,
    LATEST,
    capture_rng,
    cpu_state_dict,
    load_checkpoint,
    restore_rng,
    run_folder,
    save_checkpoint,
)
from train.config import TrainConfig, add_config_args, given_fields
from train.data import StepBatchSampler, UnpairedDataset, load_center, scan_folder, steps_per_epoch
from train.distributed import DistInfo, any_rank, cleanup, gather_objects, init_distributed, wait_for_all
from train.ema import WeightEMA
from train.image_pool import ImagePool
from train.losses import (
    GAN_LOSSES,
    colour_fit_residual,
    flat_texture,
    gradient_penalty,
    hue_keep_residual,
    total_variation,
)
from train.progress import LossLog, save_grid
from train.spike_penalty import SpikePenalty
from train.stride_pattern import stride_pattern_loss

SAMPLE_COUNT = 4


def _tone_parameters(*generators: nn.Module) -> set[int]:
    return {id(p) for g in generators if getattr(g, "tone", None) is not None for p in g.tone.parameters()}


def _load_weights(model: nn.Module, weights: dict, adds_tone: bool) -> None:
    """Strict load, except that a generator gaining the global-tone path keeps its zero init."""
    missing, unexpected = model.load_state_dict(weights, strict=not adds_tone)
    absent = [k for k in missing if not k.startswith("tone.")]
    if absent or unexpected:
        raise RuntimeError(f"missing keys {absent[:3]}, unexpected keys {unexpected[:3]}")


def _optimizer_state_with_new_params(saved: dict, optimizer: torch.optim.Optimizer, new: set[int]) -> dict:
    """`saved` (an optimizer state without the parameters in `new`) re-indexed for `optimizer`,
    which has them: the old parameters keep their Adam moments, the new ones start without."""
    state, old_index, new_index = {}, 0, 0
    groups = []
    for group, saved_group in zip(optimizer.param_groups, saved["param_groups"], strict=True):
        indices = []
        for p in group["params"]:
            if id(p) not in new:
                if old_index in saved["state"]:
                    state[new_index] = saved["state"][old_index]
                old_index += 1
            indices.append(new_index)
            new_index += 1
        groups.append({**saved_group, "params": indices})
    if old_index != sum(len(g["params"]) for g in saved["param_groups"]):
        raise RuntimeError("the generators' optimizer state does not match their parameters")
    return {"state": state, "param_groups": groups}


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


def resolve_amp(mode: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for `--amp` on this device (None = full fp32)."""
    if device.type != "cuda" or mode == "off":
        if mode in ("bf16", "fp16") and device.type != "cuda":
            warnings.warn(f"--amp {mode} needs CUDA; training in fp32 on {device}", stacklevel=2)
        return None
    if mode == "fp16" or (mode == "auto" and not torch.cuda.is_bf16_supported()):
        return torch.float16
    return torch.bfloat16


def lr_factor(step: int, total_steps: int, decay_fraction: float) -> float:
    """1 for the first (1 - decay_fraction) of the steps, then linear towards 0."""
    decay = round(total_steps * decay_fraction)
    constant = total_steps - decay
    return max(0.0, 1.0 - max(0, step - constant) / float(decay + 1))


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


TONE_CALIBRATION_IMAGES = 64


class CycleGANTrainer:
    """Models, optimisers, schedulers, scalers and pools of one process, and one training step."""

    def __init__(
        self,
        config: TrainConfig,
        total_steps: int,
        device: torch.device | str = "cpu",
        dist_info: DistInfo = DistInfo(),  # noqa: B008 - frozen dataclass
    ) -> None:
        self.config, self.total_steps, self.dist = config, total_steps, dist_info
        self.device = torch.device(device)
        self.gen_config: GeneratorConfig = config.generator_config()
        self.gan = GAN_LOSSES[config.gan_loss]
        self.amp_dtype = resolve_amp(config.amp, self.device)
        self.memory_format = torch.channels_last if self.device.type == "cuda" else torch.contiguous_format

        torch.manual_seed(config.seed)  # identical init on every rank (DDP also broadcasts it)
        self.g_a = self._prepare(init_weights(create_generator(self.gen_config), config.init_gain))  # A -> B
        self.g_b = self._prepare(init_weights(create_generator(self.gen_config), config.init_gain))  # B -> A
        self.d_a = self._prepare(init_weights(self._discriminator(), config.init_gain))  # judges B images
        self.d_b = self._prepare(init_weights(self._discriminator(), config.init_gain))  # judges A images
        if config.tone_only:  # before DDP wraps them, so it ignores the frozen parameters
            for generator in (self.g_a, self.g_b):
                for name, p in generator.named_parameters():
                    p.requires_grad_(name.startswith("tone."))
        self.models = {"G_A": self.g_a, "G_B": self.g_b, "D_A": self.d_a, "D_B": self.d_b}
        self.train_models = {name: self._wrap(m) for name, m in self.models.items()}
        generators = {"G_A": self.g_a, "G_B": self.g_b}
        self.ema = WeightEMA(generators, config.ema_decay) if config.ema_decay > 0 else None
        # What samples and exports show: the EMA shadows when there are any, else the raw weights.
        self.output_generators = self.ema.shadows if self.ema else generators
        # Hooked after the EMA copies its shadows, so only the trained generators carry the hooks.
        self.spikes = SpikePenalty(generators.values(), config.spike_sigma) if config.lambda_spike > 0 else None

        betas = (config.beta1, config.beta2)
        self.opt_g = torch.optim.Adam(itertools.chain(self.g_a.parameters(), self.g_b.parameters()), config.lr, betas)
        self.opt_d = torch.optim.Adam(itertools.chain(self.d_a.parameters(), self.d_b.parameters()), config.lr, betas)
        self.optimizers = {"G": self.opt_g, "D": self.opt_d}
        schedule = self._lr_lambda
        self.schedulers = {k: torch.optim.lr_scheduler.LambdaLR(o, schedule) for k, o in self.optimizers.items()}
        fp16 = self.amp_dtype == torch.float16
        self.scalers = {k: torch.amp.GradScaler(self.device.type, enabled=fp16) for k in self.optimizers}
        pool_seed = config.seed * 1009 + dist_info.rank * 2
        self.pool_a = ImagePool(config.pool_size, pool_seed)  # fake A images, for D_B
        self.pool_b = ImagePool(config.pool_size, pool_seed + 1)  # fake B images, for D_A
        torch.manual_seed(config.seed + 7919 * (dist_info.rank + 1))  # per-rank stream for GP draws
        self.step = 0
        self.tone_added = False  # set by load_state_dict when a resumed run gains the tone path
        self.train_seconds = 0.0
        self.last_losses: dict[str, float] = {}

    def _lr_lambda(self, step: int) -> float:
        return lr_factor(step, self.total_steps, self.config.decay_fraction)

    def _sync_schedule(self, source: str) -> None:
        """Put each scheduler's epoch on the run's step. LambdaLR counts its own epochs, so a
        checkpoint assembled from two runs (one's optimisers under another's step counter) would
        otherwise train at the rate of the wrong step, 0 past the schedule's end, without a word."""
        for key, sched in self.schedulers.items():
            if sched.last_epoch == self.step:
                continue
            warnings.warn(
                f"{source}: the {key} learning-rate schedule was at step {sched.last_epoch}, the run at "
                f"{self.step}; the schedule now follows the run",
                stacklevel=3,
            )
            sched.last_epoch = self.step - 1
            sched.step()  # the scheduler sets every group's rate for the run's step itself

    def _discriminator(self) -> nn.Module:
        return PatchDiscriminator(3, self.config.ndf, self.config.d_layers)

    def _prepare(self, model: nn.Module) -> nn.Module:
        return model.to(self.device, memory_format=self.memory_format).train()

    def _wrap(self, model: nn.Module) -> nn.Module:
        if not self.dist.enabled:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids, broadcast_buffers=False)

    def _autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def lr(self) -> float:
        return self.opt_g.param_groups[0]["lr"]

    # -- one step ------------------------------------------------------------------------
    def train_step(self, real_a: torch.Tensor, real_b: torch.Tensor) -> dict[str, torch.Tensor]:
        """One generator update and 1 (n_critic for wgangp) discriminator updates; returns
        detached losses."""
        cfg, tm = self.config, self.train_models
        real_a = real_a.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        real_b = real_b.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        lambda_idt = cfg.lambda_cycle * cfg.lambda_identity

        # Generators: the discriminators are frozen and called unwrapped (no DDP sync for them).
        for d in (self.d_a, self.d_b):
            d.requires_grad_(False)
        if self.spikes is not None:
            self.spikes.reset()
            self.spikes.enabled = True
        with self._autocast():
            fake_b = tm["G_A"](real_a)
            rec_a = tm["G_B"](self._cycle_input(fake_b))
            fake_a = tm["G_B"](real_b)
            rec_b = tm["G_A"](self._cycle_input(fake_a))
            loss_g_a = self.gan.g(self.d_a(fake_b))
            loss_g_b = self.gan.g(self.d_b(fake_a))
            loss_cycle_a = (rec_a.float() - real_a).abs().mean() * cfg.lambda_cycle
            loss_cycle_b = (rec_b.float() - real_b).abs().mean() * cfg.lambda_cycle
            loss_g = loss_g_a + loss_g_b + loss_cycle_a + loss_cycle_b
            # Priors with weight 0 are logged as 0 and not computed (the grid one runs two FFTs).
            loss_grid = loss_tv = loss_flat = loss_colour = loss_hue = torch.zeros((), device=self.device)
            if cfg.lambda_grid > 0:
                loss_grid = (stride_pattern_loss(fake_b) + stride_pattern_loss(fake_a)) * cfg.lambda_grid
                loss_g = loss_g + loss_grid
            if cfg.lambda_tv > 0:
                loss_tv = total_variation(fake_b) * cfg.lambda_tv
                loss_g = loss_g + loss_tv
            if cfg.lambda_flat_texture > 0:
                loss_flat = flat_texture(fake_b, real_a) * cfg.lambda_flat_texture
                loss_g = loss_g + loss_flat
            if cfg.lambda_colour_fit > 0:
                loss_colour = colour_fit_residual(fake_b, real_a) * cfg.lambda_colour_fit
                loss_g = loss_g + loss_colour
            if cfg.lambda_hue_keep > 0:
                loss_hue = (
                    hue_keep_residual(fake_b, real_a, min_saturation=cfg.hue_keep_min_saturation) * cfg.lambda_hue_keep
                )
                loss_g = loss_g + loss_hue
            if lambda_idt > 0:
                loss_idt_a = (tm["G_A"](real_b).float() - real_b).abs().mean() * lambda_idt
                loss_idt_b = (tm["G_B"](real_a).float() - real_a).abs().mean() * lambda_idt
                loss_g = loss_g + loss_idt_a + loss_idt_b
            else:
                loss_idt_a = loss_idt_b = torch.zeros((), device=self.device)
            loss_spike = torch.zeros((), device=self.device)
            if self.spikes is not None:
                self.spikes.enabled = False
                loss_spike = self.spikes.total * cfg.lambda_spike
                loss_g = loss_g + loss_spike
        self.opt_g.zero_grad(set_to_none=True)
        self._backward_step(loss_g, "G")
        if self.ema is not None:
            self.ema.update()

        # Discriminators: real and pooled fake in one batch (instance norm is per image).
        for d in (self.d_a, self.d_b):
            d.requires_grad_(True)
        pooled_b = self.pool_b.query(fake_b.detach().float())
        pooled_a = self.pool_a.query(fake_a.detach().float())
        n_updates = cfg.n_critic if self.gan.gradient_penalty else 1
        for _ in range(n_updates):
            with self._autocast():
                loss_d_a = self._d_loss(tm["D_A"], self.d_a, real_b, pooled_b)
                loss_d_b = self._d_loss(tm["D_B"], self.d_b, real_a, pooled_a)
            self.opt_d.zero_grad(set_to_none=True)
            self._backward_step(loss_d_a + loss_d_b, "D")
        for scheduler in self.schedulers.values():
            scheduler.step()
        self.step += 1
        losses = {
            "D_A": loss_d_a, "G_A": loss_g_a, "cycle_A": loss_cycle_a, "idt_A": loss_idt_a,
            "D_B": loss_d_b, "G_B": loss_g_b, "cycle_B": loss_cycle_b, "idt_B": loss_idt_b,
            "grid": loss_grid, "tv": loss_tv, "flat": loss_flat, "colour": loss_colour, "hue": loss_hue, "spike": loss_spike,
        }  # fmt: skip
        return {k: v.detach().float() for k, v in losses.items()}

    def _cycle_input(self, fake: torch.Tensor) -> torch.Tensor:
        """The translated image as the reverse generator sees it: low-passed with --cycle-blur and
        noisy with --cycle-noise, so the cycle cannot be closed by a hidden fine or faint code."""
        cfg = self.config
        if cfg.cycle_blur > 0:
            radius = math.ceil(3 * cfg.cycle_blur)
            fake = gaussian_blur(fake, [2 * radius + 1] * 2, [cfg.cycle_blur] * 2)
        return fake + cfg.cycle_noise * torch.randn_like(fake) if cfg.cycle_noise > 0 else fake

    def _d_loss(self, wrapped: nn.Module, raw: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        n = real.shape[0]
        logits = wrapped(torch.cat([real, fake.to(real.dtype)], 0))
        loss = self.gan.d(logits[:n], logits[n:])
        if self.gan.gradient_penalty:
            loss = loss + self.config.gp_weight * gradient_penalty(raw, real, fake)
        return loss

    def _backward_step(self, loss: torch.Tensor, which: str) -> None:
        scaler, optimizer = self.scalers[which], self.optimizers[which]
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    @torch.no_grad()
    def translate(self, real_a: torch.Tensor, real_b: torch.Tensor) -> list[torch.Tensor]:
        """Rows of a sample grid: real A, fake B, reconstructed A, real B, fake A, reconstructed B."""
        real_a, real_b = real_a.to(self.device), real_b.to(self.device)
        g_a, g_b = self.output_generators["G_A"], self.output_generators["G_B"]
        with self._autocast():
            fake_b, fake_a = g_a(real_a), g_b(real_b)
            rec_a, rec_b = g_b(fake_b), g_a(fake_a)
        return [t.float().cpu() for t in (real_a, fake_b, rec_a, real_b, fake_a, rec_b)]

    # -- state ---------------------------------------------------------------------------
    @torch.no_grad()
    def calibrate_tone(self, dataset: UnpairedDataset, images: int = TONE_CALIBRATION_IMAGES) -> None:
        """Centre each generator's global-tone path on its input domain: the stem's mean output
        over the first `images` training samples (the same on every rank)."""
        pairs = [dataset[i] for i in range(min(images, len(dataset)))]
        for generator, domain in ((self.g_a, 0), (self.g_b, 1)):
            generator.calibrate_tone(torch.stack([p[domain] for p in pairs]).to(self.device))
        if self.ema is not None:
            for name, generator in (("G_A", self.g_a), ("G_B", self.g_b)):
                self.ema.shadows[name].tone.center.copy_(generator.tone.center)

    def rank_state(self) -> dict:
        """What differs between processes: pools and RNG states."""
        return {
            "pool_a": self.pool_a.state_dict(),
            "pool_b": self.pool_b.state_dict(),
            "rng": capture_rng(self.device),
            "checksum": torch.tensor(sum(float(p.detach().double().sum()) for p in self.g_a.parameters())),
        }

    def state_dict(self, rank_states: list[dict], extra: dict | None = None) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "kind": "cyclegan",
            "export_model": "G_A",
            "config": self.config.to_dict(),
            "generator_config": self.gen_config.to_dict(),
            "step": self.step,
            "total_steps": self.total_steps,
            "train_seconds": self.train_seconds,
            "world_size": self.dist.world_size,
            "last_losses": dict(self.last_losses),
            "models": {name: cpu_state_dict(m) for name, m in self.models.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "scalers": {k: s.state_dict() for k, s in self.scalers.items()},
            "rank_states": rank_states,
            **({"ema": self.ema.state_dict()} if self.ema else {}),
            **(extra or {}),
        }

    def load_state_dict(self, state: dict, source: str = "checkpoint") -> None:
        saved = GeneratorConfig.from_dict(state["generator_config"])
        adds_tone = self.gen_config.global_tone and not saved.global_tone
        # Switching the tone path on, and any decoder cap (parameter-free), are allowed changes.
        allowed = dataclasses.replace(
            saved, global_tone=saved.global_tone or adds_tone, norm_clip=self.gen_config.norm_clip
        )
        if allowed != self.gen_config:
            raise StyleCamError(
                f"{source} was trained with generator {saved.describe()}, not {self.gen_config.describe()}; "
                "resume without --generator/--ngf/--n-blocks/--no-global-tone or start a new run"
            )
        for name, model in self.models.items():
            try:
                _load_weights(model, state["models"][name], adds_tone)
            except (RuntimeError, KeyError) as err:
                first = str(err).strip().splitlines()[0][:160]
                raise StyleCamError(f"{source}: {name} does not match this run's architecture ({first})") from err
        for key, opt in self.optimizers.items():
            saved_opt = state["optimizers"][key]
            if adds_tone and key == "G":
                saved_opt = _optimizer_state_with_new_params(saved_opt, opt, _tone_parameters(self.g_a, self.g_b))
            opt.load_state_dict(saved_opt)
        for key, sched in self.schedulers.items():
            sched.load_state_dict(state["schedulers"][key])
        for key, scaler in self.scalers.items():
            if state["scalers"].get(key):
                scaler.load_state_dict(state["scalers"][key])
        self.tone_added = adds_tone
        self.step = int(state["step"])
        self._sync_schedule(source)
        self.train_seconds = float(state.get("train_seconds", 0.0))
        self.last_losses = dict(state.get("last_losses", {}))
        if self.ema is not None:
            if "ema" in state:
                self.ema.load_state_dict(state["ema"], strict=not adds_tone)
            else:  # EMA switched on when resuming: start the average at the resumed weights
                self.ema.restart_from_sources()
        ranks = state.get("rank_states", [])
        if state.get("world_size") == self.dist.world_size and self.dist.rank < len(ranks):
            mine = ranks[self.dist.rank]
            self.pool_a.load_state_dict(mine["pool_a"], self.device)
            self.pool_b.load_state_dict(mine["pool_b"], self.device)
            restore_rng(mine["rng"], self.device)
        else:
            warnings.warn(
                f"{source} was written by {state.get('world_size')} process(es), this run has "
                f"{self.dist.world_size}: image pools and RNG streams restart (training continues, not bit-exact)",
                stacklevel=2,
            )


# -- the run ---------------------------------------------------------------------------------
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


def _infinite(loader: DataLoader) -> Iterator:
    yield from loader


def total_steps_for(config: TrainConfig, epoch_length: int, world_size: int) -> int:
    per_epoch = steps_per_epoch(epoch_length, config.batch_size, world_size)
    return config.max_steps if config.max_steps is not None else config.epochs * per_epoch


def run_training(
    config: TrainConfig, resume_state: dict | None = None, stop_at_step: int | None = None, quiet: bool = False
) -> Path:
    """Train (or continue) a run to its end, the time budget, or a stop request; returns the run dir.

    `stop_at_step` stops early as an interruption would (used by tests).
    """
    config.validate()
    info, device = init_distributed(config.device)
    try:
        run_dir = _run(config, info, device, resume_state, stop_at_step, quiet)
        wait_for_all(info)  # on success only: a rank that raised goes straight to cleanup
        return run_dir
    finally:
        cleanup(info)


def _run(
    config: TrainConfig,
    info: DistInfo,
    device: torch.device,
    resume_state: dict | None,
    stop_at_step: int | None,
    quiet: bool,
) -> Path:
    if config.threads:
        torch.set_num_threads(config.threads)
    say = print if info.is_main and not quiet else (lambda *a, **k: None)
    run_dir = config.run_dir()
    a_dir, b_dir = config.domain_dirs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the summary below reports skipped files once
        scan_a = scan_folder(a_dir, config.crop_size, "domain A")
        scan_b = scan_folder(b_dir, config.crop_size, "domain B")
    dataset = UnpairedDataset(
        scan_a.files,
        scan_b.files,
        config.load_size,
        config.crop_size,
        config.flip,
        config.seed,
        config.dark_style_fraction,
    )
    total = total_steps_for(config, len(dataset), info.world_size)
    trainer = CycleGANTrainer(config, total, device, info)
    if resume_state is not None:
        trainer.load_state_dict(resume_state, "resume checkpoint")
    if trainer.gen_config.global_tone and (resume_state is None or trainer.tone_added):
        trainer.calibrate_tone(dataset)
    say(f"data: {scan_a.summary()}; {scan_b.summary()}")
    say(
        f"run {run_dir}: {trainer.gen_config.describe()} generators, {config.gan_loss} loss, crop {config.crop_size}, "
        f"{total} steps ({steps_per_epoch(len(dataset), config.batch_size, info.world_size)}/epoch), "
        f"{hardware_description(device, info.world_size)}, amp={trainer.amp_dtype}, from step {trainer.step}"
    )

    workers = config.workers if config.workers is not None else (4 if device.type == "cuda" else 0)
    loader = DataLoader(
        dataset,
        batch_sampler=StepBatchSampler(config.batch_size, trainer.step, info.rank, info.world_size),
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(config.seed),  # never draws from the global RNG
    )
    samples = _sample_batch(config, scan_a.files, scan_b.files)
    log = None
    if info.is_main:  # TensorBoard events too, when tensorboard is installed
        log = LossLog(run_dir / "losses.csv", trainer.step if resume_state else None, run_dir / "tensorboard")
    ckpt_path = run_dir / "checkpoints" / LATEST

    def save() -> None:
        states = gather_objects(trainer.rank_state(), info)
        if info.is_main:
            extra = {
                "hardware": hardware_description(device, info.world_size),
                "data": _data_info(config, scan_a, scan_b),
            }
            state = trainer.state_dict(states, extra)
            save_checkpoint(ckpt_path, state)
            if config.snapshot_every and trainer.step % config.snapshot_every == 0:
                save_checkpoint(ckpt_path.with_name(f"step_{trainer.step:07d}.pt"), state)

    sums: dict[str, torch.Tensor] = {}
    n_sum = 0
    session_start = last_save = time.monotonic()
    bar = tqdm(total=total, initial=trainer.step, disable=not info.is_main or quiet, dynamic_ncols=True, mininterval=1)
    batches = _infinite(loader)
    with StopFlag() as stop:
        while True:
            now = time.monotonic()
            over_time = config.max_minutes is not None and now - session_start >= config.max_minutes * 60
            halted = stop_at_step is not None and trainer.step >= stop_at_step
            stopping = any_rank(stop.requested or over_time or halted or trainer.step >= total, info, device)
            if stopping:
                break
            step_start = time.monotonic()
            real_a, real_b = next(batches)
            losses = trainer.train_step(real_a, real_b)
            trainer.train_seconds += time.monotonic() - step_start
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + v
            n_sum += 1
            bar.update(1)
            step = trainer.step
            if step % config.log_every == 0 or step == total:
                trainer.last_losses = {k: float(v) / n_sum for k, v in sums.items()}
                if not all(math.isfinite(v) for v in trainer.last_losses.values()):
                    raise StyleCamError(f"losses became NaN/inf at step {step}: {trainer.last_losses}")
                sums, n_sum = {}, 0
                bar.set_postfix({k: f"{v:.3f}" for k, v in trainer.last_losses.items()}, refresh=False)
                if log is not None:
                    epoch = step * config.batch_size * info.world_size / len(dataset)
                    log.write(step, {"epoch": epoch, "lr": trainer.lr(), "seconds": trainer.train_seconds,
                                     **trainer.last_losses})  # fmt: skip
            if info.is_main and (step % config.sample_every == 0 or step == total):
                save_grid(run_dir / "samples" / f"step_{step:07d}.png", trainer.translate(*samples))
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
    if info.is_main:
        save_grid(run_dir / "samples" / "latest.png", trainer.translate(*samples))
        if log is not None:
            log.close()
        say(f"saved {ckpt_path} at step {trainer.step} ({trainer.train_seconds / 60:.1f} min of training)")
        if config.export and trainer.step >= total and stop_at_step is None:
            _export_finished(config, run_dir, say)
    return run_dir


def _sample_batch(config: TrainConfig, files_a: tuple, files_b: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """A few fixed images (test folders when present) shown every --sample-every steps."""
    tests = config.test_dirs()
    if tests is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            files_a, files_b = scan_folder(tests[0]).files, scan_folder(tests[1]).files
    size = max(256, config.crop_size)
    pick = lambda files: [files[i * len(files) // SAMPLE_COUNT] for i in range(min(SAMPLE_COUNT, len(files)))]  # noqa: E731
    a = torch.stack([load_center(p, size, size) for p in pick(files_a)])
    b = torch.stack([load_center(p, size, size) for p in pick(files_b)])
    n = min(len(a), len(b))
    return a[:n], b[:n]


def _data_info(config: TrainConfig, scan_a: object, scan_b: object) -> dict:
    return {
        "domain_a": str(scan_a.folder),
        "domain_b": str(scan_b.folder),
        "images_a": len(scan_a.files),
        "images_b": len(scan_b.files),
    }


def _export_finished(config: TrainConfig, run_dir: Path, say) -> None:
    from train.export import export_run

    style = export_run(run_dir, config.style_name(), library_root=config.library, evaluate=True)
    say(f"exported style {style.name!r} to {style.path}")


# -- command line ----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m train",
        description="Train a CycleGAN style on two unpaired image folders (A = photos, B = the style).",
    )
    add_config_args(parser, TrainConfig)
    parser.add_argument(
        "--resume",
        nargs="?",
        const="auto",
        default=None,
        help="continue a run exactly: a checkpoint/run folder, or no value for runs/NAME",
    )
    return parser


def config_for_resume(saved: dict, given: dict) -> TrainConfig:
    """The checkpoint's config with the allowed changes; a conflicting change is an error."""
    config = TrainConfig.from_dict(saved)
    for key, value in given.items():
        if key in TrainConfig.RESUMABLE_CHANGES:
            setattr(config, key, value)
        elif value != getattr(config, key):
            raise StyleCamError(
                f"cannot change --{key.replace('_', '-')} when resuming (checkpoint has {getattr(config, key)!r}, "
                f"got {value!r}); start a new run with another --name instead"
            )
    return config


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    given = given_fields(args, TrainConfig)
    try:
        resume_state = None
        if args.resume:
            where = TrainConfig(**given).run_dir() if args.resume == "auto" else Path(args.resume)
            resume_state = load_checkpoint(where)
            if resume_state.get("kind") != "cyclegan":
                raise StyleCamError(f"{where} is a {resume_state.get('kind')} checkpoint, not a CycleGAN run")
            config = config_for_resume(resume_state["config"], given)
            if "out" not in given:  # a copied or moved run goes on where it is, not where it was made
                config.out = str(run_folder(where))
        else:
            config = TrainConfig(**given)
        run_training(config, resume_state)
    except StyleCamError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
