"""CycleGAN training (Zhu et al. 2017): two generators, two 70x70 PatchGANs, cycle and identity
losses, image pools, Adam with a constant-then-linear-decay schedule, and the priors of
train/losses/priors.py that the config weights.

`CycleGANTrainer` holds the models, optimisers and per-step logic and can save/restore its
complete state; `run_training` adds data and hands it to the shared run loop (train/trainers/loop.py:
progress, samples, checkpoints, export); `main` is `python -m train`. Under `torchrun` every
model is wrapped in DistributedDataParallel.
"""

from __future__ import annotations

import itertools
import math
import warnings
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from torchvision.transforms.v2.functional import gaussian_blur

from models.discriminator import PatchDiscriminator
from models.errors import StyleCamError
from models.registry import GeneratorConfig, create_generator
from train.losses.adversarial import GAN_LOSSES, gradient_penalty
from train.losses.priors import PriorInputs, weighted_priors
from train.losses.spike_penalty import SpikePenalty
from train.trainers.checkpoint import (
    CHECKPOINT_FORMAT,
    capture_rng,
    cpu_state_dict,
    restore_models,
    restore_optimizers,
    restore_rng,
)
from train.trainers.config import ADAM_BETA2, TrainConfig
from train.trainers.data import (
    StepBatchSampler,
    UnpairedDataset,
    sample_batch,
    scan_folder,
    steps_per_epoch,
    unpaired_data_info,
)
from train.trainers.distributed import DistInfo, cleanup, gather_objects, init_distributed, wait_for_all
from train.trainers.ema import WeightEMA
from train.trainers.image_pool import ImagePool
from train.trainers.loop import (  # noqa: F401 - StopFlag and init_weights are imported from here too
    StopFlag,
    build_parser,
    cli,
    hardware_description,
    init_weights,
    lr_factor,
    run_loop,
    sync_schedule,
)
from train.trainers.progress import save_grid


def resolve_amp(mode: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for `--amp` on this device (None = full fp32)."""
    if device.type != "cuda" or mode == "off":
        if mode in ("bf16", "fp16") and device.type != "cuda":
            warnings.warn(f"--amp {mode} needs CUDA; training in fp32 on {device}", stacklevel=2)
        return None
    if mode == "fp16" or (mode == "auto" and not torch.cuda.is_bf16_supported()):
        return torch.float16
    return torch.bfloat16


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
        self.g_a = self._prepare(init_weights(create_generator(self.gen_config)))  # A -> B
        self.g_b = self._prepare(init_weights(create_generator(self.gen_config)))  # B -> A
        self.d_a = self._prepare(init_weights(self._discriminator()))  # judges B images
        self.d_b = self._prepare(init_weights(self._discriminator()))  # judges A images
        self.models = {"G_A": self.g_a, "G_B": self.g_b, "D_A": self.d_a, "D_B": self.d_b}
        self.train_models = {name: self._wrap(m) for name, m in self.models.items()}
        generators = {"G_A": self.g_a, "G_B": self.g_b}
        self.ema = WeightEMA(generators, config.ema_decay) if config.ema_decay > 0 else None
        # What samples and exports show: the EMA shadows when there are any, else the raw weights.
        self.output_generators = self.ema.shadows if self.ema else generators
        # Hooked after the EMA copies its shadows, so only the trained generators carry the hooks.
        self.spikes = SpikePenalty(generators.values()) if config.lambda_spike > 0 else None

        betas = (config.beta1, ADAM_BETA2)
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
        self.train_seconds = 0.0
        self.last_losses: dict[str, float] = {}

    def _lr_lambda(self, step: int) -> float:
        return lr_factor(step, self.total_steps, self.config.decay_fraction)

    def _discriminator(self) -> nn.Module:
        return PatchDiscriminator(3, self.config.ndf)

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
        zero = torch.zeros((), device=self.device)

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
            loss_idt_a = loss_idt_b = zero
            if lambda_idt > 0:
                loss_idt_a = (tm["G_A"](real_b).float() - real_b).abs().mean() * lambda_idt
                loss_idt_b = (tm["G_B"](real_a).float() - real_a).abs().mean() * lambda_idt
            if self.spikes is not None:
                self.spikes.enabled = False
            inputs = PriorInputs(
                photo=real_a, styled=fake_b, config=cfg, reverse=fake_a,
                spike_total=self.spikes.total if self.spikes is not None else None,
            )  # fmt: skip
            priors = weighted_priors(cfg, inputs, self.device)
            loss_g = loss_g_a + loss_g_b + loss_cycle_a + loss_cycle_b + loss_idt_a + loss_idt_b + sum(priors.values())
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
            "D_B": loss_d_b, "G_B": loss_g_b, "cycle_B": loss_cycle_b, "idt_B": loss_idt_b, **priors,
        }  # fmt: skip
        return {k: v.detach().float() for k, v in losses.items()}

    def _cycle_input(self, fake: torch.Tensor) -> torch.Tensor:
        """The translated image as the reverse generator sees it: low-passed with --cycle-blur, so
        the cycle cannot be closed by a hidden fine code."""
        sigma = self.config.cycle_blur
        if sigma <= 0:
            return fake
        radius = math.ceil(3 * sigma)
        return gaussian_blur(fake, [2 * radius + 1] * 2, [sigma] * 2)

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
        if saved != self.gen_config:
            raise StyleCamError(
                f"{source} was trained with generator {saved.describe()}, not {self.gen_config.describe()}; "
                "resume without --generator/--ngf/--n-blocks/--decoder-norm or start a new run"
            )
        restore_models(self.models, state, source, "architecture")
        restore_optimizers(self.optimizers, self.schedulers, state)
        for key, scaler in self.scalers.items():
            if state["scalers"].get(key):
                scaler.load_state_dict(state["scalers"][key])
        self.step = int(state["step"])
        sync_schedule(self.schedulers, self.step, source)
        self.train_seconds = float(state.get("train_seconds", 0.0))
        self.last_losses = dict(state.get("last_losses", {}))
        if self.ema is not None:
            if "ema" in state:
                self.ema.load_state_dict(state["ema"])
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
    dataset = UnpairedDataset(scan_a.files, scan_b.files, config.load_size, config.crop_size, config.flip, config.seed)
    total = total_steps_for(config, len(dataset), info.world_size)
    trainer = CycleGANTrainer(config, total, device, info)
    if resume_state is not None:
        trainer.load_state_dict(resume_state, "resume checkpoint")
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
    samples = sample_batch(config.test_dirs(), config.crop_size, scan_a.files, scan_b.files)
    extra = {"hardware": hardware_description(device, info.world_size), "data": unpaired_data_info(scan_a, scan_b)}

    def checkpoint() -> dict | None:
        states = gather_objects(trainer.rank_state(), info)
        return trainer.state_dict(states, extra) if info.is_main else None

    run_loop(
        trainer, config, total, iter(loader), checkpoint,
        lambda path: save_grid(path, trainer.translate(*samples)),
        resumed=resume_state is not None, info=info, device=device, epoch_length=len(dataset),
        stop_at_step=stop_at_step, quiet=quiet,
    )  # fmt: skip
    return run_dir


# -- command line ----------------------------------------------------------------------------
RECIPE_EPILOG = (
    "A shipped style's whole recipe (all its stages) replays with `python -m train --recipe NAME "
    "--dataroot DIR` (train/recipes/NAME.toml; `python -m train --recipe NAME --help` for its options)."
)


def build_train_parser():
    return build_parser(
        TrainConfig,
        "python -m train",
        "Train a CycleGAN style on two unpaired image folders (A = photos, B = the style).",
        RECIPE_EPILOG,
    )


def config_for_resume(saved: dict, given: dict) -> TrainConfig:
    """The checkpoint's config with the allowed changes; a conflicting change is an error."""
    return TrainConfig.for_resume(saved, given)


def main(argv: list[str] | None = None) -> int:
    return cli(argv, build_train_parser(), TrainConfig, "cyclegan", run_training)
