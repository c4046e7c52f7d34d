"""`python -m train.cut --dataroot DIR ...`: CUT and FastCUT (Park et al. 2020, "Contrastive
Learning for Unpaired Image-to-Image Translation"), one-sided photo -> style training.

One generator and one 70x70 PatchGAN (LSGAN), no cycle: the content is kept by PatchNCE, a
contrastive loss on the generator's own encoder features (train/losses/patch_nce.py: 256 patches per
layer, 2-layer MLP heads, temperature 0.07).
- CUT: lambda_nce 1, plus identity NCE (style images through the generator, as the paper's
  idt term), the two NCE terms averaged;
- FastCUT (--fast): lambda_nce 10, no identity NCE; one generator pass and one encoder pass a
  step, against CycleGAN's six generator passes.
`--init STYLE` starts the generator as a finished style (a library name, weights file or run) and
so fine-tunes it; `--lambda-grid` adds the period-4 pattern penalty (train/losses/stride_pattern.py).
Single process; the config base, resume path, run loop, checkpoint format and export are the
CycleGAN trainer's (train/trainers/config.py, train/trainers/loop.py), so `--resume` and `python -m train.stages.export`
work as there (the exported generator is "G").
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from models.discriminator import PatchDiscriminator
from models.errors import StyleCamError
from models.registry import GeneratorConfig, create_generator
from train.losses.adversarial import GAN_LOSSES
from train.losses.patch_nce import EncoderTap, PatchNCE, feature_channels
from train.losses.priors import PriorInputs, weighted_priors
from train.trainers.checkpoint import (
    CHECKPOINT_FORMAT,
    capture_rng,
    cpu_state_dict,
    restore_models,
    restore_optimizers,
    restore_rng,
)
from train.trainers.config import ADAM_BETA2, CutConfig
from train.trainers.data import (
    StepBatchSampler,
    UnpairedDataset,
    sample_batch,
    scan_folder,
    steps_per_epoch,
    unpaired_data_info,
)
from train.trainers.distill import load_teacher
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

__all__ = ["CutConfig", "CutTrainer", "main", "run_cut"]


class CutTrainer:
    """Generator, discriminator, projection heads, optimisers and one CUT / FastCUT step."""

    def __init__(self, config: CutConfig, total_steps: int, device: torch.device | str = "cpu") -> None:
        self.config, self.total_steps, self.device = config, total_steps, torch.device(device)
        torch.manual_seed(config.seed)
        self.gen, self.gen_config = self._initial_generator(config)
        self.gen = self.gen.to(self.device).train()
        self.disc = init_weights(PatchDiscriminator(3, config.ndf))
        self.disc = self.disc.to(self.device).train()
        self.tap = EncoderTap(self.gen, config.nce_pixels)
        channels = feature_channels(self.tap, self.device)
        self.nce = PatchNCE(channels, config.nce_dim, config.nce_patches, config.nce_temperature)
        self.heads = init_weights(self.nce.heads).to(self.device).train()
        self.models = {"G": self.gen, "D": self.disc, "F": self.heads}
        betas = (config.beta1, ADAM_BETA2)
        g_params = itertools.chain(self.gen.parameters(), self.heads.parameters())
        self.optimizers = {
            "G": torch.optim.Adam(g_params, config.lr, betas),
            "D": torch.optim.Adam(self.disc.parameters(), config.lr, betas),
        }
        lam = self._lr_lambda
        self.schedulers = {k: torch.optim.lr_scheduler.LambdaLR(o, lam) for k, o in self.optimizers.items()}
        self.gan = GAN_LOSSES["lsgan"]
        self.step, self.train_seconds, self.last_losses = 0, 0.0, {}

    @staticmethod
    def _initial_generator(config: CutConfig) -> tuple[nn.Module, GeneratorConfig]:
        """A fresh generator of the configured preset, or with --init a copy of a finished style
        (its architecture, weights and fixed palette map): CUT as a fine-tune of that style."""
        if not config.init:
            gen_config = config.generator_config()
            return init_weights(create_generator(gen_config)), gen_config
        gen, gen_config = load_teacher(config.init, config.library)
        if hasattr(gen, "inference_border"):
            gen.inference_border = 0  # trained without the inference margin, as every trainer here
        return gen, gen_config

    def _lr_lambda(self, step: int) -> float:
        return lr_factor(step, self.total_steps, self.config.decay_fraction)

    def lr(self) -> float:
        return self.optimizers["G"].param_groups[0]["lr"]

    # -- losses --------------------------------------------------------------------------
    def nce_loss(self, out_feats: list[torch.Tensor], in_feats: list[torch.Tensor]) -> torch.Tensor:
        """PatchNCE between the features of the outputs (queries) and of their inputs (keys),
        averaged over the layers."""
        return self.nce(out_feats, in_feats)

    # -- one step ------------------------------------------------------------------------
    def train_step(self, real_a: torch.Tensor, real_b: torch.Tensor) -> dict[str, torch.Tensor]:
        """One generator (+ heads) update and one discriminator update; returns detached losses."""
        cfg = self.config
        real_a, real_b = real_a.to(self.device), real_b.to(self.device)
        n, identity = len(real_a), cfg.identity_nce()
        # CUT: photos and style images in one pass (instance norm is per image); G(B) is the identity.
        out, in_feats = self.tap.run(torch.cat([real_a, real_b]) if identity else real_a)
        out_feats = self.tap.encode(out)
        fake_b = out[:n]

        self.disc.requires_grad_(False)
        loss_gan = self.gan.g(self.disc(fake_b)) * cfg.lambda_gan
        loss_nce = self.nce_loss([f[:n] for f in out_feats], [f[:n] for f in in_feats])
        loss_idt = torch.zeros((), device=self.device)
        nce = loss_nce
        if identity:
            loss_idt = self.nce_loss([f[n:] for f in out_feats], [f[n:] for f in in_feats])
            nce = 0.5 * (loss_nce + loss_idt)
        priors = weighted_priors(cfg, PriorInputs(photo=real_a, styled=fake_b, config=cfg), self.device)
        loss_g = loss_gan + cfg.nce_weight() * nce + sum(priors.values())
        self.optimizers["G"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizers["G"].step()

        self.disc.requires_grad_(True)
        logits = self.disc(torch.cat([real_b, fake_b.detach()]))
        loss_d = self.gan.d(logits[: len(real_b)], logits[len(real_b) :])
        self.optimizers["D"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizers["D"].step()
        for scheduler in self.schedulers.values():
            scheduler.step()
        self.step += 1
        losses = {"D": loss_d, "G": loss_gan, "NCE": loss_nce, "NCE_idt": loss_idt, **priors}
        return {k: v.detach() for k, v in losses.items()}

    @torch.no_grad()
    def translate(self, real_a: torch.Tensor, real_b: torch.Tensor) -> list[torch.Tensor]:
        """Rows of a sample grid: photos, their translation, style images, their identity."""
        real_a, real_b = real_a.to(self.device), real_b.to(self.device)
        return [t.cpu() for t in (real_a, self.gen(real_a), real_b, self.gen(real_b))]

    # -- state ---------------------------------------------------------------------------
    def state_dict(self, extra: dict | None = None) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "kind": "cut",
            "export_model": "G",
            "config": self.config.to_dict(),
            "generator_config": self.gen_config.to_dict(),
            "step": self.step,
            "total_steps": self.total_steps,
            "train_seconds": self.train_seconds,
            "world_size": 1,
            "last_losses": dict(self.last_losses),
            "models": {name: cpu_state_dict(m) for name, m in self.models.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "rank_states": [{"rng": capture_rng(self.device)}],
            **(extra or {}),
        }

    def load_state_dict(self, state: dict, source: str = "checkpoint") -> None:
        saved = GeneratorConfig.from_dict(state["generator_config"])
        if saved != self.gen_config:
            raise StyleCamError(f"{source}: generator is {saved.describe()}, not {self.gen_config.describe()}")
        restore_models(self.models, state, source)
        restore_optimizers(self.optimizers, self.schedulers, state)
        self.step, self.train_seconds = int(state["step"]), float(state["train_seconds"])
        sync_schedule(self.schedulers, self.step, source)
        self.last_losses = dict(state.get("last_losses", {}))
        restore_rng(state["rank_states"][0]["rng"], self.device)


# -- the run ---------------------------------------------------------------------------------
def run_cut(
    config: CutConfig,
    resume_state: dict | None = None,
    stop_at_step: int | None = None,
    quiet: bool = False,
    on_step: Callable[[CutTrainer], None] | None = None,
) -> Path:
    """Train (or continue) a CUT run to its end, the time budget or a stop request; returns the
    run folder. `stop_at_step` stops early as an interruption would (tests, train.make_style's
    step-rate probe); `on_step(trainer)` runs after every step."""
    config.validate()
    if config.threads:
        torch.set_num_threads(config.threads)
    device = pick_device(config.device)
    say = (lambda *a, **k: None) if quiet else print
    a_dir, b_dir = config.domain_dirs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the summary below reports skipped files once
        scan_a = scan_folder(a_dir, config.crop_size, "domain A")
        scan_b = scan_folder(b_dir, config.crop_size, "domain B")
    dataset = UnpairedDataset(scan_a.files, scan_b.files, config.load_size, config.crop_size, config.flip, config.seed)
    per_epoch = steps_per_epoch(len(dataset), config.batch_size, 1)
    total = config.max_steps if config.max_steps is not None else config.epochs * per_epoch
    trainer = CutTrainer(config, total, device)
    if resume_state is not None:
        trainer.load_state_dict(resume_state, "resume checkpoint")
    mode = "FastCUT" if config.fast else "CUT"
    say(f"data: {scan_a.summary()}; {scan_b.summary()}")
    say(f"{mode} run {config.run_dir()}: {trainer.gen_config.describe()}, lambda_nce {config.nce_weight()}, "
        f"identity NCE {'on' if config.identity_nce() else 'off'}, crop {config.crop_size}, {total} steps "
        f"({per_epoch}/epoch), {hardware_description(device)}, from step {trainer.step}")  # fmt: skip
    loader = DataLoader(dataset, batch_sampler=StepBatchSampler(config.batch_size, trainer.step),
                        generator=torch.Generator().manual_seed(config.seed))  # fmt: skip
    samples = sample_batch(config.test_dirs(), config.crop_size, scan_a.files, scan_b.files)
    extra = {"hardware": hardware_description(device), "data": unpaired_data_info(scan_a, scan_b)}
    run_loop(
        trainer, config, total, iter(loader), lambda: trainer.state_dict(extra),
        lambda path: save_grid(path, trainer.translate(*samples)), resumed=resume_state is not None,
        device=device, epoch_length=len(dataset), stop_at_step=stop_at_step, quiet=quiet,
        on_step=None if on_step is None else lambda: on_step(trainer),
    )  # fmt: skip
    return config.run_dir()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(CutConfig, "python -m train.cut", __doc__.splitlines()[0])
    return cli(argv, parser, CutConfig, "cut", run_cut)


if __name__ == "__main__":
    raise SystemExit(main())
