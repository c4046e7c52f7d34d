"""Reading and writing generator weights safely: safetensors for our own files,
`torch.load(weights_only=True)` for reference CycleGAN checkpoints, never unpickled code.

All checkpoint key surgery lives here: `module.`/`_orig_mod.` prefixes from DataParallel and
torch.compile, stale instance-norm running statistics from old reference versions, and the
inference of the architecture from the keys.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from models.errors import StyleError
from models.registry import GeneratorConfig, create_generator

REFERENCE_SUFFIXES = (".pth", ".pt", ".ckpt")
STALE_NORM_KEYS = ("running_mean", "running_var", "num_batches_tracked")
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")


def read_weights(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Load tensors (and safetensors metadata) from a file, with one clear error on failure."""
    path = Path(path)
    if path.is_dir():
        inside = sorted(p.name for p in path.iterdir() if p.suffix in (".safetensors", *REFERENCE_SUFFIXES))
        hint = f" (it holds {', '.join(inside[:3])}{', ...' if len(inside) > 3 else ''})" if inside else ""
        raise StyleError(
            f"weights {path} is a folder{hint}; give one weights file (.safetensors, or a reference CycleGAN "
            "*_net_G*.pth) or a style name from `python main.py styles`"
        )
    if not path.is_file():
        raise StyleError(f"weights file {path} does not exist; check the path or run `python main.py styles`")
    if path.suffix == ".safetensors":
        return _read_safetensors(path)
    if path.suffix in REFERENCE_SUFFIXES:
        return _read_reference(path), {}
    raise StyleError(f"weights file {path} has an unsupported extension; use .safetensors or a .pth state_dict")


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = dict(f.metadata() or {})
        return load_file(str(path)), metadata
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise StyleError(
            f"weights file {path} is corrupt or truncated ({_first_line(err)}); re-export or re-import it"
        ) from err


def _read_reference(path: Path) -> dict[str, torch.Tensor]:
    try:
        data = torch.load(str(path), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, AttributeError) as err:
        raise StyleError(
            f"weights file {path} is not a readable PyTorch state_dict ({_first_line(err)}); "
            "it may be corrupt, truncated, or contain pickled code, which is never loaded"
        ) from err
    if isinstance(data, dict) and "state_dict" in data and isinstance(data["state_dict"], dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise StyleError(f"weights file {path} does not hold a generator state_dict (a dict of tensors)")
    return dict(data)


def clean_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip wrapper prefixes and drop instance-norm running stats that old versions saved."""
    cleaned = {}
    for key, value in state.items():
        for prefix in _WRAPPER_PREFIXES:
            while key.startswith(prefix):
                key = key[len(prefix) :]
        if key.rsplit(".", 1)[-1] in STALE_NORM_KEYS:
            continue
        cleaned[key] = value
    return cleaned


def infer_config(state: dict[str, torch.Tensor], source: Path | str = "weights") -> GeneratorConfig:
    """Recognise the generator architecture and its hyper-parameters from a state_dict's keys."""
    if "model.1.weight" in state and state["model.1.weight"].shape[1:] == (3, 7, 7):
        blocks = {int(m.group(1)) for k in state if (m := re.match(r"model\.(\d+)\.conv_block\.", k))}
        dropout = any(".conv_block.6.weight" in k for k in state)
        ngf, palette = state["model.1.weight"].shape[0], "palette.weight" in state
        return GeneratorConfig("resnet", ngf=ngf, n_blocks=len(blocks), dropout=dropout, palette=palette)
    if "encoder.0.weight" in state:
        blocks = {int(m.group(1)) for k in state if (m := re.match(r"blocks\.(\d+)\.", k))}
        smooth = state.get("decoder.0.smooth.weight")
        arch = "lite_hq" if smooth is not None and smooth.shape[1] > 1 else "lite"  # full vs depthwise 3x3
        ngf, tone, palette = state["encoder.0.weight"].shape[0], "tone.weight" in state, "palette.weight" in state
        return GeneratorConfig(arch, ngf=ngf, n_blocks=len(blocks), global_tone=tone, palette=palette)
    raise StyleError(
        f"weights file {source} is not a known generator (expected a CycleGAN ResnetGenerator "
        "or a lite generator state_dict); is it a discriminator or another model?"
    )


def build_generator(state: dict[str, torch.Tensor], config: GeneratorConfig, source: Path | str) -> nn.Module:
    """Instantiate `config` and load `state` strictly; a mismatch names the file."""
    model = create_generator(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise StyleError(
            f"weights file {source} does not match architecture {config.describe()} "
            f"({_first_line(err)}); the manifest entry or the file is wrong"
        ) from err
    return model.eval()


def read_generator_state(path: Path) -> tuple[dict[str, torch.Tensor], GeneratorConfig]:
    """Cleaned tensors of any supported generator file and its architecture (from our
    safetensors metadata, else inferred from the keys of a reference .pth)."""
    state, metadata = read_weights(path)
    state = clean_state_dict(state)
    return state, config_from_metadata(metadata) or infer_config(state, path)


def load_generator_file(path: Path) -> tuple[nn.Module, GeneratorConfig]:
    """Load any supported generator file: our safetensors (self-describing) or a reference .pth."""
    state, config = read_generator_state(path)
    return build_generator(state, config, path), config


def config_from_metadata(metadata: dict[str, str]) -> GeneratorConfig | None:
    if "config" not in metadata:
        return None
    return GeneratorConfig.from_dict(json.loads(metadata["config"]))


def save_generator(path: Path, model: nn.Module, config: GeneratorConfig, extra: dict | None = None) -> None:
    """Write a self-describing safetensors file atomically (a crash never leaves half a file)."""
    state = {
        k: v.detach().to("cpu", torch.float32).contiguous() for k, v in clean_state_dict(model.state_dict()).items()
    }
    metadata = {"config": json.dumps(config.to_dict()), "format": "stylecam-generator-v1"}
    if extra:
        metadata.update({k: json.dumps(v) for k, v in extra.items()})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(state, tmp, metadata=metadata)
        make_readable(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def make_readable(path: str | Path) -> None:
    """mkstemp creates files only their owner can read; give them the umask's usual mode."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__
