"""Distillation: a lite student learns to imitate a teacher generator on photos, then exports."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from models.checkpoints import save_generator
from models.errors import StyleCamError
from models.registry import GeneratorConfig, create_generator
from models.style_library import StyleLibrary
from train.trainers.checkpoint import load_checkpoint
from train.trainers.cyclegan import init_weights
from train.trainers.distill import DistillConfig, Distiller, run_distill
from train.trainers.distill import main as distill_main


def _teacher(path: Path) -> Path:
    torch.manual_seed(1)
    config = GeneratorConfig("resnet", ngf=8, n_blocks=2)
    save_generator(path, init_weights(create_generator(config)), config)
    return path


def _config(dataroot: Path, teacher: Path, out: Path, **kw: object) -> DistillConfig:
    base = {"teacher": str(teacher), "dataroot": str(dataroot), "out": str(out), "ngf": 8, "n_blocks": 1, "ndf": 8,
            "load_size": 36, "crop_size": 32, "max_steps": 30, "log_every": 5, "sample_every": 1000,
            "export": False, "device": "cpu"}  # fmt: skip
    base.update(kw)
    return DistillConfig(**base)


def test_student_gets_closer_to_teacher(dataroot: Path, tmp_path: Path) -> None:
    teacher_path = _teacher(tmp_path / "teacher.safetensors")
    config = _config(dataroot, teacher_path, tmp_path / "run", lr=2e-3, lambda_gan=0.0, max_steps=50)
    from train.trainers.distill import load_teacher

    teacher, _ = load_teacher(str(teacher_path))
    d = Distiller(config, teacher)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        before = (d.student(x) - d.teacher(x)).abs().mean()
        d.teacher_tap.take(), d.student_tap.take()
    losses = [d.train_step(x) for _ in range(50)]
    assert all(math.isfinite(float(v)) for step in losses for v in step.values())
    with torch.no_grad():
        after = (d.student(x) - d.teacher(x)).abs().mean()
    assert after < 0.7 * before, (before, after)
    assert float(losses[-1]["feature"]) < float(losses[0]["feature"])


def test_teacher_colour_gives_the_student_the_teacher_s_fixed_palette_and_guard(dataroot: Path, tmp_path: Path) -> None:
    """--teacher-colour: a new lite_fast student ends with the teacher's fitted palette map,
    which training leaves as it is, and the teacher's colour guard; --colour-guard overrides it."""
    torch.manual_seed(2)
    teacher_config = GeneratorConfig("lite", ngf=8, n_blocks=1, palette=True, colour_guard=8)
    teacher = init_weights(create_generator(teacher_config))
    teacher.palette.set_map(
        torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.5]]), torch.tensor([0.1, 0.0, -0.1])
    )
    config = _config(dataroot, tmp_path / "unused", tmp_path / "run", student="lite_fast", ngf=4, n_blocks=1,
                     teacher_colour=True)  # fmt: skip
    d = Distiller(config, teacher, teacher_config=teacher_config)
    assert d.student_config.palette and d.student_config.colour_guard == 8 and d.student.guard is not None
    d.train_step(torch.rand(2, 3, 32, 32) * 2 - 1)
    assert torch.equal(d.student.palette.weight, teacher.palette.weight)
    assert torch.equal(d.student.palette.bias, teacher.palette.bias)
    unguarded = _config(dataroot, tmp_path / "unused", tmp_path / "run", student="lite_fast", teacher_colour=True,
                        colour_guard=0)  # fmt: skip
    assert unguarded.student_config(teacher_config).colour_guard == 0
    assert (
        not _config(dataroot, tmp_path / "unused", tmp_path / "run", student="lite_fast")
        .student_config(teacher_config)
        .palette
    )


def test_a_finished_fast_student_of_a_library_style_is_exported_as_its_twin(
    dataroot: Path, library: StyleLibrary
) -> None:
    """`--teacher alpha --student lite_fast --out runs/alpha` must not add a style 'alpha' (the
    student, shadowing its teacher): the export attaches it to alpha as its fast twin."""
    out = library.root.parent / "runs" / "alpha"
    config = DistillConfig(teacher="alpha", dataroot=str(dataroot), out=str(out), student="lite_fast", ngf=4,
                           n_blocks=1, ndf=8, load_size=36, crop_size=32, max_steps=2, sample_every=1000,
                           device="cpu", library=str(library.root))  # fmt: skip
    assert config.twin_of() == "alpha"
    run_distill(config, quiet=True)
    style = library.resolve("alpha")
    assert style.config.arch == "lite" and style.has_fast_twin
    assert library.load(library.fast_twin_style(style))[1].config.arch == "lite_fast"
    assert DistillConfig(teacher="alpha", student="lite_fast", export_name="mine").twin_of() is None
    assert DistillConfig(teacher="alpha", student="lite").twin_of() is None


def test_distill_cli_resume_and_export(dataroot: Path, tmp_path: Path) -> None:
    teacher_path = _teacher(tmp_path / "teacher.safetensors")
    config = _config(dataroot, teacher_path, tmp_path / "run", max_steps=4)
    run_distill(config, quiet=True)
    state = load_checkpoint(tmp_path / "run")
    assert state["kind"] == "distill" and state["step"] == 4
    lib = tmp_path / "lib"
    args = ["--out", str(tmp_path / "run"), "--resume", "--max-steps", "6", "--export", "--library", str(lib),
            "--export-name", "twin", "--teacher", str(teacher_path)]  # fmt: skip
    assert distill_main(args) == 0
    _model, style = StyleLibrary(lib).load("twin")
    assert style.config == GeneratorConfig("lite", ngf=8, n_blocks=1)
    assert style.training["kind"] == "distill" and style.training["steps"] == 6
    assert style.training["teacher"] == str(teacher_path)


# The config dict the webcam fine-tunes of runs/final/*_webcam store (DistillConfig's fields when
# they were started: python -m train.distill --teacher STYLE --fine-tune --name STYLE_webcam --out
# runs/final/STYLE_webcam --data runs/data/photos_all --dataroot ../shared/data/STYLE2photo
# --load-size 256 --crop-size 128 --ndf 32 --pixel-pool 1 --lambda-structure 2
# --lambda-consistency 5 --lambda-texture 20 --max-steps 4000 --decay-fraction 0.5 --save-every 500
# --sample-every 500 --threads 1 --no-export). Their checkpoints must keep exporting and resuming.
WEBCAM_RUN_CONFIG = {
    "teacher": "vangogh", "name": "vangogh_webcam", "dataroot": "../shared/data/vangogh2photo",
    "data": "runs/data/photos_all", "out": "runs/final/vangogh_webcam", "student": "lite", "ngf": None,
    "n_blocks": None, "fine_tune": True, "ndf": 32, "lambda_pixel": 10.0, "lambda_feature": 1.0,
    "lambda_gan": 1.0, "pixel_pool": 1, "lambda_structure": 2.0, "lambda_consistency": 5.0,
    "lambda_texture": 20.0, "consistency_shift": 4, "consistency_noise": 0.02, "lr": 0.0002, "beta1": 0.5,
    "max_steps": 4000, "decay_fraction": 0.5, "max_minutes": None, "batch_size": 1, "load_size": 256,
    "crop_size": 128, "flip": True, "seed": 0, "device": "auto", "threads": 1, "log_every": 10,
    "sample_every": 500, "save_every": 500, "save_minutes": 10.0, "export": False, "export_name": None,
    "library": None,
}  # fmt: skip


def test_the_webcam_fine_tunes_checkpoints_still_load_export_and_resume(dataroot: Path, tmp_path: Path) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no field of theirs was removed
        config = DistillConfig.from_dict(WEBCAM_RUN_CONFIG)
    assert {k: getattr(config, k) for k in WEBCAM_RUN_CONFIG} == WEBCAM_RUN_CONFIG
    assert DistillConfig.for_resume(WEBCAM_RUN_CONFIG, {"max_steps": 4000, "threads": 2}).threads == 2

    # A tiny fine-tune whose checkpoint carries that dict, with its sizes and data made tiny.
    teacher_path = _teacher(tmp_path / "teacher.safetensors")
    run = tmp_path / "run"
    tiny = {**WEBCAM_RUN_CONFIG, "teacher": str(teacher_path), "dataroot": str(dataroot), "data": None,
            "out": str(run), "ndf": 8, "load_size": 36, "crop_size": 32, "max_steps": 3, "threads": None,
            "device": "cpu", "lambda_texture": 1.0}  # fmt: skip
    run_distill(DistillConfig(**tiny), quiet=True)
    state = load_checkpoint(run)
    added = {"snapshot_every": 0, "lambda_grid": 0.0, "texture_levels": 1, "lambda_nce": 0.0,  # fields added since
             "lambda_palette": 0.0, "paintings": None, "palette_batch": 4, "extra_photos": None,
             "palette_levels": 0, "min_scale": 1.0, "lambda_faces": 0.0, "extra_share": 0.0,
             "teacher_colour": False, "colour_guard": None}  # fmt: skip
    assert state["config"] == {**tiny, **added}
    state["config"] = tiny  # as the running fine-tunes wrote it
    torch.save(state, run / "checkpoints" / "latest.pt")
    from train.stages.export import export_run, run_generators

    _forward, backward, gen_config = run_generators(load_checkpoint(run))
    assert backward is None and gen_config == GeneratorConfig("resnet", ngf=8, n_blocks=2)
    style = export_run(run, "webcam", library_root=tmp_path / "lib")
    assert style.training["kind"] == "distill" and style.training["steps"] == 3
    assert distill_main(["--resume", str(run), "--max-steps", "4"]) == 0
    assert load_checkpoint(run)["step"] == 4


def test_distill_resume_follows_the_step_when_the_schedule_is_stale(dataroot: Path, tmp_path: Path) -> None:
    """The schedule re-sync CycleGAN runs have: a distillation checkpoint whose scheduler epoch
    is off its step resumes at its step's learning rate, with a warning."""

    from train.trainers.loop import lr_factor

    teacher_path = _teacher(tmp_path / "teacher.safetensors")
    config = _config(dataroot, teacher_path, tmp_path / "run", max_steps=2)
    run_distill(config, quiet=True)
    state = load_checkpoint(tmp_path / "run")
    for sched in state["schedulers"].values():
        sched["last_epoch"] = 10_000
    from train.trainers.distill import load_teacher

    longer = _config(dataroot, teacher_path, tmp_path / "run", max_steps=8, decay_fraction=1.0)
    teacher, teacher_config = load_teacher(str(teacher_path))
    d = Distiller(longer, teacher, teacher_config=teacher_config)
    with pytest.warns(UserWarning, match="schedule was at step 10000, the run at 2"):
        d.load_state_dict(state)
    assert d.lr() == pytest.approx(longer.lr * lr_factor(2, 8, 1.0))


def test_extra_photos_are_mixed_in_with_the_photos(dataroot: Path, tmp_path: Path) -> None:
    teacher_path = _teacher(tmp_path / "teacher.safetensors")
    config = _config(dataroot, teacher_path, tmp_path / "run", max_steps=2, extra_photos=str(dataroot / "testA"))
    run_distill(config, quiet=True)
    data = load_checkpoint(tmp_path / "run")["data"]
    assert data["images"] == 6 + 3 and str(dataroot / "testA") in data["photos"]


def test_extra_share_repeats_the_photos_to_bring_the_extra_ones_down(dataroot: Path, tmp_path: Path) -> None:
    teacher_path = _teacher(tmp_path / "teacher.safetensors")
    config = _config(dataroot, teacher_path, tmp_path / "run", max_steps=2, extra_photos=str(dataroot / "testA"),
                     extra_share=0.2)  # fmt: skip
    run_distill(config, quiet=True)
    data = load_checkpoint(tmp_path / "run")["data"]
    assert data["photo_repeats"] == 2 and data["images"] == 2 * 6 + 3  # 3 of 15: the share asked, 0.2
    assert DistillConfig(teacher="x", extra_share=0.5).photo_repeats(1000, 3259) == 3  # 52% webcam photos
    assert DistillConfig(teacher="x", extra_share=0.9).photo_repeats(1000, 3259) == 1  # already lower
    with pytest.raises(StyleCamError, match="extra-share"):
        DistillConfig(teacher="x", extra_share=0.5).validate()  # no --extra-photos
