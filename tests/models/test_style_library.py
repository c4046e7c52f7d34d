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
from tests.conftest import REPO, run_main, tiny_generator


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


def test_corrupt_manifest_is_named_and_set_aside(library: StyleLibrary) -> None:
    library.manifest_path.write_text("{not json")
    with pytest.warns(UserWarning, match=r"manifest\.json is not valid JSON.*set aside as manifest\.json\.broken-"):
        assert library.list_styles() == []
    (aside,) = library.root.glob("manifest.json.broken-*")
    assert aside.read_text() == "{not json"  # the user's file, kept as it was
    assert (library.root / "alpha.safetensors").is_file()  # and nothing else was touched


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


# -- two libraries: the shipped one (read-only) under the user's ------------------------------


@pytest.fixture
def layered(tmp_path: Path) -> StyleLibrary:
    """A shipped library ('alpha' default, 'beta') under an empty user library, both in tmp_path."""
    shipped = StyleLibrary(tmp_path / "shipped")
    for seed, name in enumerate(("alpha", "beta")):
        shipped.add_style(*tiny_generator(seed=seed), name)
    return StyleLibrary(tmp_path / "user", shipped=shipped.root)


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_user_library_root_per_platform(tmp_path: Path) -> None:
    from models.style_library import user_library_root

    home = Path.home()
    assert user_library_root({"STYLECAM_USER_STYLES": str(tmp_path)}, "linux") == tmp_path
    assert user_library_root({}, "linux") == home / ".local/share/stylecam/styles"
    assert user_library_root({"XDG_DATA_HOME": "/x/data"}, "linux") == Path("/x/data/stylecam/styles")
    assert user_library_root({"XDG_DATA_HOME": "relative"}, "linux") == home / ".local/share/stylecam/styles"
    assert user_library_root({}, "darwin") == home / "Library/Application Support/StyleCam/styles"
    assert user_library_root({"APPDATA": str(tmp_path)}, "win32") == tmp_path / "StyleCam" / "styles"


def test_default_library_is_the_user_one_over_the_shipped_one(
    monkeypatch: pytest.MonkeyPatch, user_styles: Path
) -> None:
    from models.style_library import SHIPPED_ROOT

    monkeypatch.delenv("STYLECAM_WEIGHTS", raising=False)
    library = StyleLibrary()
    assert library.root == user_styles and library.shipped_root == SHIPPED_ROOT and library.layered
    monkeypatch.setenv("STYLECAM_WEIGHTS", str(user_styles / "one"))  # one library, read and written
    assert StyleLibrary().root == user_styles / "one" and not StyleLibrary().layered


def test_user_styles_are_listed_after_the_shipped_ones_and_shadow_them(layered: StyleLibrary) -> None:
    before = tree_bytes(layered.shipped_root)
    assert [(s.name, s.where()) for s in layered.list_styles()] == [("alpha", "shipped"), ("beta", "shipped")]
    assert layered.default_style_name() == "alpha" and layered.resolve("beta").read_only
    layered.add_style(*tiny_generator(seed=5), "gamma")
    layered.add_style(*tiny_generator(seed=6), "beta")  # the user's own 'beta'
    listed = layered.list_styles()
    assert [(s.name, s.where()) for s in listed] == [
        ("alpha", "shipped"),
        ("beta", "user, shadows shipped"),  # in the shipped style's place: number keys stay put
        ("gamma", "user"),
    ]
    assert listed[1].shadows_shipped and listed[1].path.parent == layered.root
    assert layered.default_style_name() == "alpha"  # a user style does not take over the default
    model, style = layered.load("beta")
    assert style.shadows_shipped and not style.read_only
    expected, _ = tiny_generator(seed=6)
    assert torch.equal(next(iter(model.state_dict().values())), next(iter(expected.state_dict().values())))
    layered.set_default("gamma")
    assert layered.default_style_name() == "gamma"
    layered.remove_style("gamma")  # the user default goes: back to the shipped default
    assert layered.default_style_name() == "alpha"
    layered.remove_style("beta")  # the user copy goes: the shipped one shows again
    assert [(s.name, s.where()) for s in layered.list_styles()] == [("alpha", "shipped"), ("beta", "shipped")]
    assert tree_bytes(layered.shipped_root) == before


def test_shipped_styles_cannot_be_removed_or_edited_in_place(layered: StyleLibrary) -> None:
    before = tree_bytes(layered.shipped_root)
    with pytest.raises(StyleError, match=r"^'beta' is a shipped style and cannot be removed; .*read-only"):
        layered.remove_style("beta")
    layered.update_entry("beta", evaluation={"swd": 1.0})  # figures for a shipped style: a user copy
    style = layered.resolve("beta")
    assert style.shadows_shipped and style.evaluation["swd"] == 1.0 and style.path.parent == layered.root
    layered.load("beta")  # same bytes, same checksum
    with pytest.raises(StyleError, match="not in the library"):
        layered.update_entry("nope", evaluation={})
    assert tree_bytes(layered.shipped_root) == before


def test_a_broken_user_copy_hides_its_shipped_style_with_a_warning(layered: StyleLibrary) -> None:
    layered.add_style(*tiny_generator(seed=6), "beta")
    (layered.root / "beta.safetensors").write_bytes(b"junk")
    with pytest.warns(UserWarning, match="beta.*remove-style"):
        assert layered.names() == ["alpha"]  # listing shows what loading would give
    layered.manifest_path.write_text("{not json")
    with pytest.warns(UserWarning, match="not valid JSON"):
        assert layered.names() == ["alpha", "beta"]  # the shipped ones still work


def test_colour_guard_on_a_shipped_style_writes_a_user_copy(layered: StyleLibrary) -> None:
    from train.stages.colour_guard import set_style_colour_guard

    before = tree_bytes(layered.shipped_root)
    style = set_style_colour_guard(layered, "beta", 8)
    assert style.shadows_shipped and style.path.parent == layered.root and style.config.colour_guard == 8
    assert layered.resolve("beta").config.colour_guard == 8
    assert layered.default_style_name() == "alpha"
    assert tree_bytes(layered.shipped_root) == before


def test_cli_on_the_real_shipped_library(tmp_path: Path) -> None:
    """`import-style`, `styles` and `remove-style` against the repo's weights/ (read, never written)."""
    from models.checkpoints import save_generator
    from models.style_library import SHIPPED_ROOT

    shipped = StyleLibrary(SHIPPED_ROOT)
    if not shipped.names():
        pytest.skip("weights/ ships no style yet")
    before = tree_bytes(SHIPPED_ROOT)
    name = shipped.default_style_name()
    user = tmp_path / "user"
    weights = tmp_path / "mine.safetensors"
    save_generator(weights, *tiny_generator(seed=3))
    done = run_main("import-style", str(weights), "--name", name, STYLECAM_USER_STYLES=str(user))
    assert done.returncode == 0 and "shadows the shipped style" in done.stdout, done.stderr
    listing = run_main("styles", "--device", "cpu", STYLECAM_USER_STYLES=str(user))
    assert listing.returncode == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if line[1:].startswith(f"{name} "))
    assert row.startswith("*") and row.endswith("(user, shadows shipped)")
    assert all(line.endswith("(shipped)") for line in listing.stdout.splitlines()[1:-1] if line != row)
    assert str(user) in listing.stdout.splitlines()[-1]
    done = run_main("remove-style", name, STYLECAM_USER_STYLES=str(user))
    assert done.returncode == 0 and "shows again" in done.stdout, done.stderr
    refused = run_main("remove-style", name, STYLECAM_USER_STYLES=str(user))
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr  # one line
    assert refused.stderr.startswith(f"error: '{name}' is a shipped style and cannot be removed; ")
    assert tree_bytes(SHIPPED_ROOT) == before


# -- damage stays local ------------------------------------------------------------------------


def _warned(record: pytest.WarningsRecorder) -> list[str]:
    return [str(w.message) for w in record]


def test_damaged_user_manifest_is_set_aside_and_the_shipped_styles_work(layered: StyleLibrary) -> None:
    before = tree_bytes(layered.shipped_root)
    layered.root.mkdir(parents=True)
    layered.manifest_path.write_text('{"styles": {"mine": ')
    with pytest.warns(UserWarning) as record:
        assert layered.names() == ["alpha", "beta"]
        assert layered.default_style_name() == "alpha"
        layered.load("beta")
    (line,) = _warned(record)  # one line, once: the second read finds no damaged file
    assert str(layered.manifest_path) in line and "\n" not in line
    assert not layered.manifest_path.exists()
    (aside,) = layered.root.glob("manifest.json.broken-*")
    assert aside.read_text() == '{"styles": {"mine": '
    layered.add_style(*tiny_generator(seed=4), "mine")  # the library is usable again
    assert layered.names() == ["alpha", "beta", "mine"]
    assert aside.is_file() and tree_bytes(layered.shipped_root) == before


@pytest.mark.parametrize(
    "entry, why",
    [
        ({"display_name": "x"}, "names no file"),
        ({"file": "bad.safetensors"}, "has no architecture"),
        ({"file": "bad.safetensors", "architecture": ["lite", 8]}, "has no architecture"),
        ("bad.safetensors", "is not a table"),
    ],
    ids=["no-file", "no-architecture", "architecture-not-a-table", "not-a-table"],
)
def test_a_bad_entry_is_refused_the_good_ones_kept(layered: StyleLibrary, entry: object, why: str) -> None:
    layered.add_style(*tiny_generator(seed=4), "good")
    original = json.loads(layered.manifest_path.read_text())
    damaged = {**original, "styles": {**original["styles"], "bad": entry}}
    layered.manifest_path.write_text(json.dumps(damaged))
    with pytest.warns(UserWarning) as record:
        assert layered.names() == ["alpha", "beta", "good"]
        layered.load("good")
    (line,) = _warned(record)
    assert str(layered.manifest_path) in line and f"'bad' {why}" in line and "good entries are kept" in line
    (aside,) = layered.root.glob("manifest.json.broken-*")
    assert json.loads(aside.read_text()) == damaged  # the whole file as the user had it
    assert json.loads(layered.manifest_path.read_text()) == original  # rewritten with the good entries


def test_an_entry_pointing_outside_its_library_is_refused(layered: StyleLibrary, tmp_path: Path) -> None:
    from models.checkpoints import save_generator

    outside = tmp_path / "elsewhere" / "evil.safetensors"
    outside.parent.mkdir()
    save_generator(outside, *tiny_generator(seed=5))  # a valid style file: only its place is wrong
    layered.add_style(*tiny_generator(seed=4), "good")
    manifest = json.loads(layered.manifest_path.read_text())
    entry = manifest["styles"]["good"]
    manifest["styles"]["evil"] = {**entry, "file": "../elsewhere/evil.safetensors", "sha256": ""}
    manifest["styles"]["passwd"] = {**entry, "file": "../../../../../../etc/passwd"}
    manifest["styles"]["absolute"] = {**entry, "file": str(outside)}
    layered.manifest_path.write_text(json.dumps(manifest))
    with pytest.warns(UserWarning) as record:
        assert layered.names() == ["alpha", "beta", "good"]
        with pytest.raises(StyleError, match="not in the library"):
            layered.load("evil")
    (line,) = _warned(record)
    for name in ("evil", "passwd", "absolute"):
        assert f"style {name!r} points outside its library folder" in line


def test_shipped_manifest_with_a_bad_entry_is_read_never_written(tmp_path: Path) -> None:
    shipped = StyleLibrary(tmp_path / "shipped")
    shipped.add_style(*tiny_generator(seed=0), "alpha")
    manifest = json.loads(shipped.manifest_path.read_text())
    manifest["styles"]["up"] = {**manifest["styles"]["alpha"], "file": "../up.safetensors"}
    shipped.manifest_path.write_text(json.dumps(manifest))
    before = tree_bytes(shipped.root)
    layered = StyleLibrary(tmp_path / "user", shipped=shipped.root)
    with pytest.warns(UserWarning, match="'up' points outside"):
        assert layered.names() == ["alpha"]
    assert tree_bytes(shipped.root) == before


def test_cli_styles_with_a_damaged_user_manifest_says_one_line(tmp_path: Path) -> None:
    from models.style_library import SHIPPED_ROOT

    if not StyleLibrary(SHIPPED_ROOT).names():
        pytest.skip("weights/ ships no style yet")
    user = tmp_path / "user"
    user.mkdir()
    (user / "manifest.json").write_text("{not json")
    listing = run_main("styles", "--device", "cpu", STYLECAM_USER_STYLES=str(user))
    assert listing.returncode == 0, listing.stderr
    (line,) = listing.stderr.splitlines()  # one plain line: no UserWarning, no source line
    assert line.startswith(f"warning: style manifest {user / 'manifest.json'} is not valid JSON")
    names = [row[1:].split()[0] for row in listing.stdout.splitlines()[1:-1]]
    assert names == StyleLibrary(SHIPPED_ROOT).names()
    again = run_main("styles", "--device", "cpu", STYLECAM_USER_STYLES=str(user))
    assert again.returncode == 0 and again.stderr == "", again.stderr  # set aside: said once


def tiny_fast_twin(seed: int = 5) -> tuple[torch.nn.Module, object]:
    return tiny_generator("lite_fast", seed=seed, ngf=4, n_blocks=1, decoder_norm="demod")


def test_a_fast_twin_is_written_beside_its_style_loaded_and_removed_with_it(library: StyleLibrary) -> None:
    twin = library.add_fast_twin("alpha", *tiny_fast_twin(), training={"kind": "distill"})
    assert twin.name == "alpha" and twin.path.name == "alpha_fast.safetensors" and twin.config.arch == "lite_fast"
    style = library.resolve("alpha")
    assert style.has_fast_twin and not library.resolve("beta").has_fast_twin
    full, _ = library.load(style)
    fast, loaded = library.load(library.fast_twin_style(style))  # checksum checked as for any style
    x = torch.rand(1, 3, 64, 96) * 2 - 1
    with torch.no_grad():
        assert fast(x).shape == full(x).shape == x.shape
        assert (fast(x) - full(x)).abs().mean() > 0.01  # another generator, not the full one again
    assert loaded.config.arch == "lite_fast" and loaded.training == {"kind": "distill"}
    library.remove_style("alpha")
    assert not twin.path.exists() and not (library.root / "alpha.safetensors").exists()


def test_a_new_generator_under_the_name_drops_the_old_twin_and_its_file(library: StyleLibrary) -> None:
    twin = library.add_fast_twin("alpha", *tiny_fast_twin())
    library.add_style(*tiny_generator(seed=9), "alpha")
    assert not library.resolve("alpha").has_fast_twin and not twin.path.exists()
    assert library.load("alpha")[1].config.arch == "lite"


def test_a_broken_fast_twin_warns_and_leaves_the_full_model(library: StyleLibrary) -> None:
    twin = library.add_fast_twin("alpha", *tiny_fast_twin())
    twin.path.unlink()
    with pytest.warns(UserWarning, match="fast twin names a missing file"):
        assert library.fast_twin_style(library.resolve("alpha")) is None
    assert library.load("alpha")[1].config.arch == "lite"  # the style itself still works
    manifest = json.loads(library.manifest_path.read_text())
    manifest["styles"]["alpha"]["fast_twin"] = {"file": "../../elsewhere.safetensors", "architecture": {}}
    library.manifest_path.write_text(json.dumps(manifest))
    with pytest.warns(UserWarning, match="outside its library folder"):
        assert library.fast_twin_style(library.resolve("alpha")) is None


def test_a_user_copy_of_a_shipped_style_keeps_its_fast_twin(layered: StyleLibrary) -> None:
    from train.stages.colour_guard import set_style_colour_guard

    shipped = StyleLibrary(layered.shipped_root)
    shipped.add_fast_twin("beta", *tiny_fast_twin())
    before = tree_bytes(layered.shipped_root)
    style = set_style_colour_guard(layered, "beta", 8)  # writes a user copy of the entry
    twin = layered.fast_twin_style(layered.resolve("beta"))
    assert style.shadows_shipped and twin is not None and twin.path.parent == layered.root
    assert layered.load(twin)[0] is not None  # the copied file matches its checksum
    assert tree_bytes(layered.shipped_root) == before
    shipped.add_fast_twin("alpha", *tiny_fast_twin(seed=6))
    layered.update_entry("alpha", evaluation={"faces": 0.9})  # a user copy of the entry and its files
    twin = layered.fast_twin_style(layered.resolve("alpha"))
    assert twin.path == layered.root / "alpha_fast.safetensors" and layered.load(twin)[1].config.arch == "lite_fast"
