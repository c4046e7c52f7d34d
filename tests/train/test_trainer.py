"""The CycleGAN trainer on tiny synthetic domains: it learns, every loss runs, resume is exact."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import torch

from models.errors import StyleCamError
from train.trainers import cyclegan as trainer_mod
from train.trainers.checkpoint import load_checkpoint
from train.trainers.config import GAN_LOSSES, TrainConfig
from train.trainers.cyclegan import CycleGANTrainer, lr_factor, run_training
from train.trainers.data import UnpairedDataset, scan_folder

from .conftest import tiny_config


def _batches(config, steps: int, batch: int = 1):
    a, b = config.domain_dirs()
    ds = UnpairedDataset(scan_folder(a).files, scan_folder(b).files, config.load_size, config.crop_size, True, 0)
    for s in range(steps):
        items = [ds[s * batch + k] for k in range(batch)]
        yield torch.stack([i[0] for i in items]), torch.stack([i[1] for i in items])


def test_losses_finite_and_discriminator_learns(dataroot: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = tiny_config(dataroot, tmp_path, lambda_identity=0.0)
    t = CycleGANTrainer(config, total_steps=40)
    history = [t.train_step(a, b) for a, b in _batches(config, 40, batch=2)]
    for losses in history:
        assert all(math.isfinite(float(v)) for v in losses.values())
    first = float(history[0]["D_A"] + history[0]["D_B"])
    last = sum(float(h["D_A"] + h["D_B"]) for h in history[-5:]) / 5
    assert last < 0.7 * first, (first, last)
    # D_A now scores real blue squares above translated red ones.
    a, b = next(_batches(config, 1, batch=2))
    with torch.no_grad():
        real_score = t.d_a(b).mean()
        fake_score = t.d_a(t.g_a(a)).mean()
    assert real_score > fake_score + 0.2


@pytest.mark.parametrize("loss", GAN_LOSSES)
def test_every_gan_loss_runs(loss: str, dataroot: Path, tmp_path: Path) -> None:
    config = tiny_config(dataroot, tmp_path, gan_loss=loss, n_critic=2)
    t = CycleGANTrainer(config, total_steps=3)
    before = [p.clone() for p in t.d_a.parameters()]
    for a, b in _batches(config, 2):
        losses = t.train_step(a, b)
        assert set(losses) >= {"D_A", "D_B", "G_A", "G_B", "cycle_A", "cycle_B"}
        assert all(math.isfinite(float(v)) for v in losses.values()), losses
    assert any(not torch.equal(p0, p) for p0, p in zip(before, t.d_a.parameters(), strict=True))


def test_export_name_follows_the_run_folder_when_only_out_is_given() -> None:
    assert TrainConfig(out="runs/ukiyoe v2").style_name() == "ukiyoe_v2"  # not the default 'style'
    assert TrainConfig(name="monet", out="runs/x").style_name() == "monet"
    assert TrainConfig(name="monet", export_name="monet_ft").style_name() == "monet_ft"
    assert TrainConfig().style_name() == "style"


def test_lr_schedule_constant_then_linear_decay() -> None:
    factors = [lr_factor(s, 100, 0.5) for s in range(100)]
    assert factors[:51] == [1.0] * 51
    assert all(x > y for x, y in itertools.pairwise(factors[50:]))
    assert 0 < factors[-1] < 0.05


@pytest.mark.parametrize("loss", ["lsgan", "wgangp"])
def test_resume_equals_uninterrupted(loss: str, dataroot: Path, tmp_path: Path) -> None:
    """Stop after 3 of 6 steps, resume from the checkpoint file: same weights, optimisers, pools."""
    straight = tiny_config(dataroot, tmp_path / "straight", max_steps=6, gan_loss=loss, n_critic=2, pool_size=2)
    run_training(straight, quiet=True)
    split = tiny_config(dataroot, tmp_path / "split", max_steps=6, gan_loss=loss, n_critic=2, pool_size=2)
    run_training(split, stop_at_step=3, quiet=True)
    halfway = load_checkpoint(tmp_path / "split")
    assert halfway["step"] == 3
    run_training(split, resume_state=halfway, quiet=True)

    a, b = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "split")
    assert a["step"] == b["step"] == 6
    for name in ("G_A", "G_B", "D_A", "D_B"):
        for key, value in a["models"][name].items():
            assert torch.equal(value, b["models"][name][key]), f"{name}.{key} differs after resume"
    for key in ("G", "D"):
        for pid, st in a["optimizers"][key]["state"].items():
            assert torch.equal(st["exp_avg"], b["optimizers"][key]["state"][pid]["exp_avg"])
    assert torch.equal(a["rank_states"][0]["pool_a"]["images"], b["rank_states"][0]["pool_a"]["images"])
    rows = (tmp_path / "split" / "losses.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows] == ["step", "2", "4", "6"]  # no duplicated rows after resume


def test_loss_log_widens_its_header_for_a_loss_added_on_resume(tmp_path: Path) -> None:
    """A run resumed with a new prior keeps its old rows and logs the new column too."""
    from train.trainers.progress import LossLog

    path = tmp_path / "losses.csv"
    log = LossLog(path)
    log.write(2, {"G_A": 1.0})
    log = LossLog(path, resume_step=2)
    log.write(4, {"G_A": 0.5, "colour": 0.25})
    assert path.read_text().splitlines() == ["step,G_A,colour", "2,1.0,", "4,0.5,0.25"]


def test_run_writes_samples_csv_and_checkpoint(dataroot: Path, tmp_path: Path) -> None:
    config = tiny_config(dataroot, tmp_path, max_steps=4, sample_every=2, save_every=2)
    run_training(config, quiet=True)
    assert (tmp_path / "samples" / "step_0000002.png").is_file()
    assert (tmp_path / "samples" / "latest.png").is_file()
    assert (tmp_path / "losses.csv").read_text().startswith("step,epoch,lr,seconds,D_A")
    state = load_checkpoint(tmp_path)
    assert state["step"] == 4 and state["kind"] == "cyclegan"
    assert not list((tmp_path / "checkpoints").glob("*.tmp"))


def test_max_minutes_stops_and_checkpoints(dataroot: Path, tmp_path: Path) -> None:
    config = tiny_config(dataroot, tmp_path, max_steps=1000, max_minutes=0.0)
    run_training(config, quiet=True)
    assert load_checkpoint(tmp_path)["step"] == 0


def test_stop_request_checkpoints_at_step_boundary(dataroot: Path, tmp_path: Path, monkeypatch) -> None:
    """Ctrl-C (here: the stop flag set after the 2nd step) ends with a consistent checkpoint."""
    original = CycleGANTrainer.train_step

    def step_then_interrupt(self, a, b):
        out = original(self, a, b)
        if self.step == 2:
            import os
            import signal

            os.kill(os.getpid(), signal.SIGINT)
        return out

    monkeypatch.setattr(trainer_mod.CycleGANTrainer, "train_step", step_then_interrupt)
    run_training(tiny_config(dataroot, tmp_path, max_steps=50), quiet=True)
    assert load_checkpoint(tmp_path)["step"] == 2


def test_resume_with_another_architecture_is_a_clear_error(dataroot: Path, tmp_path: Path, capsys) -> None:
    run_training(tiny_config(dataroot, tmp_path, max_steps=1), quiet=True)
    state = load_checkpoint(tmp_path)
    other = tiny_config(dataroot, tmp_path, ngf=16)
    with pytest.raises(StyleCamError, match="trained with generator lite ngf=8"):
        run_training(other, resume_state=state, quiet=True)
    # Through the command line: one line on stderr, exit status 2.
    from train.trainers.cyclegan import main

    code = main(["--dataroot", str(dataroot), "--out", str(tmp_path), "--resume", str(tmp_path), "--gan-loss", "hinge"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot change --gan-loss when resuming") and "\n" not in err


def test_resuming_a_copied_run_continues_in_the_copy(dataroot: Path, tmp_path: Path) -> None:
    """Without --out, `--resume FOLDER` writes to FOLDER, not to the folder the run was made in
    (a copy resumed beside its original used to overwrite the original's checkpoints)."""
    import shutil

    from train.trainers.cyclegan import main

    original, copy = tmp_path / "original", tmp_path / "copy"
    run_training(tiny_config(dataroot, original, max_steps=2), quiet=True)
    shutil.copytree(original, copy)
    before = (original / "checkpoints" / "latest.pt").read_bytes()
    assert main(["--resume", str(copy), "--max-steps", "4", "--threads", "1"]) == 0
    assert load_checkpoint(copy)["step"] == 4
    assert (original / "checkpoints" / "latest.pt").read_bytes() == before
    assert load_checkpoint(copy)["config"]["out"] == str(copy)


def test_a_stale_schedule_in_a_checkpoint_follows_the_step(dataroot: Path, tmp_path: Path) -> None:
    """A checkpoint whose scheduler epoch is past its step (optimisers taken from a longer run)
    resumes at the rate of its own step, with a warning, not at the rate of 0."""
    run_training(tiny_config(dataroot, tmp_path, max_steps=2), quiet=True)
    state = load_checkpoint(tmp_path)
    for sched in state["schedulers"].values():
        sched["last_epoch"] = 10_000
    config = tiny_config(dataroot, tmp_path, max_steps=8, decay_fraction=1.0)
    trainer = CycleGANTrainer(config, total_steps=8)
    with pytest.warns(UserWarning, match="schedule was at step 10000, the run at 2"):
        trainer.load_state_dict(state)
    expected = config.lr * lr_factor(2, 8, 1.0)
    assert expected > 0
    for opt in trainer.optimizers.values():
        assert opt.param_groups[0]["lr"] == pytest.approx(expected)
    a, b = next(_batches(config, 1))
    before = [p.clone() for p in trainer.g_a.parameters()]
    trainer.train_step(a, b)
    assert any(not torch.equal(p0, p) for p0, p in zip(before, trainer.g_a.parameters(), strict=True))
    assert trainer.schedulers["G"].last_epoch == 3


def test_snapshots_are_kept_and_exportable(dataroot: Path, tmp_path: Path) -> None:
    """--snapshot-every keeps one checkpoint per N steps beside latest.pt, each loadable and
    exportable on its own (to pick the best step by evaluation and by eye)."""
    from train.stages.export import export_run

    run = tmp_path / "run"
    config = tiny_config(dataroot, run, max_steps=4, save_every=100, snapshot_every=2)
    run_training(config, quiet=True)
    snapshots = sorted(p.name for p in (run / "checkpoints").glob("step_*.pt"))
    assert snapshots == ["step_0000002.pt", "step_0000004.pt"]
    assert load_checkpoint(run / "checkpoints" / "step_0000002.pt")["step"] == 2
    style = export_run(run / "checkpoints" / "step_0000002.pt", "early", library_root=tmp_path / "lib")
    assert style.path.is_file()


def test_grid_penalty_in_a_step(dataroot: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    fake = torch.zeros(2, 3, 64, 64)
    plain = CycleGANTrainer(tiny_config(dataroot, tmp_path / "a"), total_steps=2)
    assert plain._cycle_input(fake) is fake  # no --cycle-blur: the reverse generator sees the output as it is
    gridded = CycleGANTrainer(tiny_config(dataroot, tmp_path / "b", lambda_grid=5.0), total_steps=2)
    for a, b in _batches(gridded.config, 2):
        losses = gridded.train_step(a, b)
        assert all(math.isfinite(float(v)) for v in losses.values())
        assert float(losses["grid"]) > 0  # the stride-pattern penalty is computed and weighted
    assert float(losses["tv"]) == 0.0  # a prior weighted 0 is logged as 0


def _measure_after_training(dataroot: Path, out: Path, option: str, weight: float, loss: str, measure) -> float:
    """Train the tiny run 30 steps with `option=weight`, check that the `loss` term is logged
    exactly when it is on, and return `measure(photo, photo->style output)` afterwards."""
    torch.manual_seed(0)
    t = CycleGANTrainer(tiny_config(dataroot, out, **{option: weight}), total_steps=30)
    for a, b in _batches(t.config, 30):
        losses = t.train_step(a, b)
    assert (float(losses[loss]) > 0) == (weight > 0)
    a, _ = next(_batches(t.config, 1))
    with torch.no_grad():
        return float(measure(a, t.models["G_A"].eval()(a)))


def test_total_variation_prior_flattens_translations(dataroot: Path, tmp_path: Path) -> None:
    """L1 TV is 0 on a flat image and 4 on a +-1 one-pixel checkerboard; with --lambda-tv the
    photo->style generator's outputs get flatter than the same run's without it."""
    from train.losses.image_priors import total_variation

    assert float(total_variation(torch.zeros(1, 3, 8, 8))) == 0.0
    checker = (torch.arange(8).view(1, 8) + torch.arange(8).view(8, 1)) % 2 * 2.0 - 1.0
    assert abs(float(total_variation(checker.expand(1, 3, 8, 8))) - 4.0) < 1e-6

    def tv_after(weight: float, out: Path) -> float:
        return _measure_after_training(dataroot, out, "lambda_tv", weight, "tv", lambda a, y: total_variation(y))

    assert tv_after(50.0, tmp_path / "tv") < 0.7 * tv_after(0.0, tmp_path / "plain")


def test_flat_texture_charges_strokes_only_where_the_photo_is_flat(dataroot: Path, tmp_path: Path) -> None:
    """Vertical streaks over a flat sky cost what plain TV charges; the same streaks over a photo
    with those very edges cost almost nothing. With --lambda-flat-texture the photo->style
    outputs of the tiny run get flatter where its photos are flat."""
    from train.losses.image_priors import flat_texture, total_variation

    streaks = (torch.arange(32) % 2 * 0.4 - 0.2).view(1, 1, 1, 32).expand(1, 3, 32, 32)
    sky = torch.full((1, 3, 32, 32), 0.3)
    assert abs(float(flat_texture(sky + streaks, sky)) - float(total_variation(sky + streaks))) < 1e-6
    assert float(flat_texture(sky + streaks, sky + streaks)) < 0.01 * float(total_variation(sky + streaks))

    def flat_after(weight: float, out: Path) -> float:
        return _measure_after_training(
            dataroot, out, "lambda_flat_texture", weight, "flat", lambda a, y: flat_texture(y, a)
        )

    assert flat_after(200.0, tmp_path / "flat") < 0.7 * flat_after(0.0, tmp_path / "plain")


def test_colour_fit_residual_spares_palettes_and_brushwork_not_blotches() -> None:
    """The colour-blotch penalty is ~0 for any global linear recolouring of the photo and for
    texture finer than its 8x8 cells, and clearly positive for a patch of colour the photo does
    not explain (green painted into one corner of a smooth grey-to-white sky)."""
    from train.losses.image_priors import colour_fit_residual

    torch.manual_seed(0)
    ramp = torch.linspace(-0.6, 0.8, 64)
    sky = (ramp.view(1, 1, 64, 1) + 0.2 * ramp.view(1, 1, 1, 64)).expand(1, 3, 64, 64).clone()
    sky[:, 2] += 0.1  # a faint blue cast, so the photo's colours span more than one axis
    recolour = torch.tensor([[0.9, 0.3, 0.0], [0.1, 0.7, 0.2], [-0.2, 0.1, 0.5]])
    repainted = torch.einsum("ij,bjhw->bihw", recolour, sky) + torch.tensor([0.1, -0.2, 0.3]).view(1, 3, 1, 1)
    assert float(colour_fit_residual(repainted, sky)) < 1e-3

    checker = (torch.arange(64).view(64, 1) + torch.arange(64).view(1, 64)) % 2 * 0.6 - 0.3
    brushwork = repainted + checker  # finer than a cell: averaged away
    assert float(colour_fit_residual(brushwork, sky)) < 1e-3

    blotch = repainted.clone()
    blotch[:, :, :24, :24] += torch.tensor([-0.5, 0.6, -0.5]).view(1, 3, 1, 1)
    assert float(colour_fit_residual(blotch, sky)) > 0.05


def test_colour_fit_prior_is_trained_and_logged(dataroot: Path, tmp_path: Path) -> None:
    """With --lambda-colour-fit the loss is computed (and 0 without); after the same steps the
    photo->style generator's outputs are better explained by a recolouring of their inputs."""
    from train.losses.image_priors import colour_fit_residual

    def residual_after(weight: float, out: Path) -> float:
        return _measure_after_training(
            dataroot, out, "lambda_colour_fit", weight, "colour", lambda a, y: colour_fit_residual(y, a)
        )

    assert residual_after(100.0, tmp_path / "colour") < 0.7 * residual_after(0.0, tmp_path / "plain")


def _sky_over_field() -> torch.Tensor:
    """A 64x64 scene: a blue sky over a green field, each with a left-to-right light ramp."""
    ramp = 0.2 * torch.linspace(-0.5, 0.5, 64).view(1, 1, 1, 64)
    scene = torch.zeros(1, 3, 64, 64)
    scene[:, :, :32] = torch.tensor([0.2, 0.4, 0.8]).view(1, 3, 1, 1) + ramp
    scene[:, :, 32:] = torch.tensor([0.2, 0.6, 0.1]).view(1, 3, 1, 1) + ramp
    return scene


def test_hue_keep_residual_spares_palettes_not_hue_swaps() -> None:
    """The hue-keeping penalty is ~0 for a paler, warmer or more saturated version of the photo,
    and clearly positive where one region swaps its hue (the green field painted red-brown under
    a blue sky), which the full linear colour fit lets through."""
    from train.losses.image_priors import colour_fit_residual, hue_keep_residual

    scene = _sky_over_field()
    warmer_paler = scene * 0.7 + torch.tensor([0.25, 0.15, 0.05]).view(1, 3, 1, 1)
    grey = scene.mean(1, keepdim=True)
    more_saturated = grey + 1.5 * (scene - grey)
    for palette in (warmer_paler, more_saturated):
        assert float(hue_keep_residual(palette, scene)) < 0.005

    # Washing the colours out keeps the hues, for free (a floor on the saturation gain lost:
    # docs/training-notes.md, --hue-keep-min-saturation).
    assert float(hue_keep_residual(grey.expand_as(scene), scene)) < 0.005

    brown_field = scene.clone()
    brown_field[:, :, 32:] += torch.tensor([0.3, -0.3, 0.05]).view(1, 3, 1, 1)
    assert float(colour_fit_residual(brown_field, scene)) < 0.01
    assert float(hue_keep_residual(brown_field, scene)) > 0.1


def test_hue_keep_prior_is_trained_and_logged(dataroot: Path, tmp_path: Path) -> None:
    """With --lambda-hue-keep the loss is computed (and 0 without); after the same steps the
    photo->style generator's outputs keep more of their inputs' hues."""
    from train.losses.image_priors import hue_keep_residual

    def residual_after(weight: float, out: Path) -> float:
        return _measure_after_training(
            dataroot, out, "lambda_hue_keep", weight, "hue", lambda a, y: hue_keep_residual(y, a)
        )

    assert residual_after(100.0, tmp_path / "hue") < 0.7 * residual_after(0.0, tmp_path / "plain")


def test_average_of_snapshots_is_an_exportable_checkpoint(dataroot: Path, tmp_path: Path) -> None:
    """`train.stages.average` writes the element-wise mean of the snapshots' generators; the result
    evaluates and exports like any checkpoint and records which steps it averaged."""
    from train.stages.average import main as average_main
    from train.stages.export import export_run

    run = tmp_path / "run"
    run_training(tiny_config(dataroot, run, max_steps=4, save_every=100, snapshot_every=2), quiet=True)
    snaps = [run / "checkpoints" / f"step_000000{s}.pt" for s in (2, 4)]
    out = run / "checkpoints" / "averaged.pt"
    assert average_main([*map(str, snaps), "--out", str(out)]) == 0
    first, last, averaged = (load_checkpoint(p) for p in (*snaps, out))
    for name, tensor in averaged["models"]["G_A"].items():
        assert torch.allclose(tensor, (first["models"]["G_A"][name] + last["models"]["G_A"][name]) / 2)
    assert averaged["models"]["D_A"] is not None and averaged["averaged_steps"] == [2, 4]
    style = export_run(out, "averaged", library_root=tmp_path / "lib")
    assert style.training["averaged_steps"] == [2, 4]
    assert average_main([str(snaps[0]), "--out", str(out)]) == 2  # one snapshot is not an average


def test_cycle_blur_low_passes_what_the_reverse_generator_sees(dataroot: Path, tmp_path: Path) -> None:
    """--cycle-blur removes a period-4 hatching from the reverse generator's input (so a hidden
    fine code cannot close the cycle) but keeps the picture's coarse content, and gradients flow."""
    blurred = CycleGANTrainer(tiny_config(dataroot, tmp_path / "b", cycle_blur=1.5), total_steps=2)
    ramp = torch.linspace(-0.5, 0.5, 64).expand(1, 3, 64, 64)
    hatch = 0.3 * torch.tensor([1.0, 1.0, -1.0, -1.0]).repeat(16).expand(1, 3, 64, 64)
    fake = (ramp + hatch).clone().requires_grad_(True)
    seen = blurred._cycle_input(fake)
    assert float((seen.detach() - ramp)[..., 8:-8, 8:-8].abs().mean()) < 0.1 * float(hatch.abs().mean())
    seen.sum().backward()
    assert fake.grad is not None and float(fake.grad.abs().sum()) > 0
    for a, b in _batches(blurred.config, 2):
        assert all(math.isfinite(float(v)) for v in blurred.train_step(a, b).values())


def test_colour_fit_residual_stays_fp32_under_autocast() -> None:
    """Under mixed precision the penalty is computed in fp32 (bf16 matmuls would blur a 3x3 fit)."""
    from train.losses.image_priors import colour_fit_residual

    torch.manual_seed(0)
    source, output = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    exact = colour_fit_residual(output, source)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        mixed = colour_fit_residual(output.bfloat16(), source.bfloat16())
    assert mixed.dtype == torch.float32
    assert float(mixed) == pytest.approx(
        float(colour_fit_residual(output.bfloat16().float(), source.bfloat16().float()))
    )
    assert float(mixed) == pytest.approx(float(exact), rel=0.05)
