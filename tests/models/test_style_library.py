"""Broken weights give one clear error naming the file; listings skip them and keep the rest."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from models.errors import StyleError
from models.style_library import StyleLibrary
from tests.conftest import REPO, tiny_generator


def test_round_trip_and_default(library: StyleLibrary) -> None:
    assert library.names() == ["alpha", "beta"]
    assert library.default_style_name() == "alpha"
    model, style = library.load("beta")
    assert style.sha256 and style.config.arch == "lite"
    expected, _ = tiny_generator(seed=1)
    for (k, a), b in zip(model.state_dict().items(), expected.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    manifest = json.loads(library.manifest_path.read_text())
    assert set(manifest["styles"]["alpha"]) >= {"display_name", "architecture", "sha256", "training", "file"}


def test_remove_style_from_the_command_line(library: StyleLibrary) -> None:
    cli = [sys.executable, "main.py", "remove-style"]
    done = subprocess.run([*cli, "alpha"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert library.names() == ["beta"] and library.default_style_name() == "beta"
    assert not (library.root / "alpha.safetensors").exists()
    missing = subprocess.run([*cli, "alpha"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert missing.returncode != 0 and "'alpha' is not in the library" in missing.stderr
    assert missing.stderr.count("\n") == 1, missing.stderr  # one line, no traceback


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),  # truncated
        lambda p: p.write_bytes(b"\x00" * 100),  # garbage
        lambda p: p.write_bytes(b""),  # empty
        lambda p: p.unlink(),  # missing
    ],
    ids=["truncated", "garbage", "empty", "missing"],
)
def test_damaged_file_is_named_and_skipped(library: StyleLibrary, damage) -> None:
    path = library.root / "beta.safetensors"
    damage(path)
    with pytest.warns(UserWarning, match="beta"):
        assert library.names() == ["alpha"]
    with pytest.raises(StyleError, match=r"beta\.safetensors"):
        library.load("beta")
    library.load("alpha")  # the rest still loads


def test_replaced_file_fails_checksum(library: StyleLibrary) -> None:
    other, config = tiny_generator(seed=7)
    from models.checkpoints import save_generator

    save_generator(library.root / "beta.safetensors", other, config)
    with pytest.raises(StyleError, match="checksum"):
        library.load("beta")


def test_wrong_architecture_is_clear(tmp_path: Path) -> None:
    model, _ = tiny_generator("resnet", ngf=4, n_blocks=9)
    state = model.state_dict()
    del state["model.26.weight"]  # last conv lost: not a complete ResNet generator
    path = tmp_path / "broken_net_G.pth"
    torch.save(state, path)
    with pytest.raises(StyleError, match=r"broken_net_G\.pth.*does not match"):
        StyleLibrary(tmp_path).load(str(path))
    torch.save({"model.0.weight": torch.zeros(64, 3, 4, 4)}, path)  # a discriminator
    with pytest.raises(StyleError, match="not a known generator"):
        StyleLibrary(tmp_path).load(str(path))


def test_manifest_architecture_mismatch_names_file(library: StyleLibrary) -> None:
    manifest = json.loads(library.manifest_path.read_text())
    manifest["styles"]["beta"]["architecture"]["n_blocks"] = 5
    library.manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(StyleError, match=r"beta\.safetensors does not match architecture"):
        library.load("beta")


def test_pickled_code_is_never_loaded(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pth"
    torch.save({"x": Evil()}, path)
    with pytest.raises(StyleError, match=r"evil\.pth.*pickled code"):
        StyleLibrary(tmp_path).load(str(path))


def test_unknown_name_and_extension(library: StyleLibrary, tmp_path: Path) -> None:
    with pytest.raises(StyleError, match="not in the library"):
        library.resolve("gamma")
    odd = tmp_path / "style.onnx"
    odd.write_bytes(b"x")
    with pytest.raises(StyleError, match="unsupported extension"):
        library.resolve(str(odd))


def test_corrupt_manifest_is_named(library: StyleLibrary) -> None:
    library.manifest_path.write_text("{not json")
    with pytest.raises(StyleError, match=r"manifest\.json"):
        library.list_styles()


def test_shipped_styles_load_and_change_the_picture() -> None:
    """Every style in the repo's weights/ passes its checksum and stylizes a frame."""
    import numpy as np

    from models.engine import InferenceEngine
    from models.style_library import DEFAULT_ROOT

    shipped = StyleLibrary(DEFAULT_ROOT)
    if not shipped.names():
        pytest.skip("weights/ ships no style yet")
    assert shipped.default_style_name() in shipped.names()
    frame = np.random.default_rng(0).integers(0, 256, (90, 160, 3), dtype=np.uint8)
    for name in shipped.names():
        model, style = shipped.load(name)
        assert style.training and style.evaluation, f"{name}: manifest lacks provenance"
        engine = InferenceEngine(device="cpu", size=64)
        engine.set_style(model, name)
        out = engine.process(frame)
        assert out.shape == frame.shape and np.abs(out.astype(int) - frame).mean() > 5
