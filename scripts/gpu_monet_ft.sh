#!/usr/bin/env bash
# Second lent-GPU call for issue 6 (about 4 minutes): fine-tune the shipped Monet at 256 px crops.
# .gpu/monet_ft256/checkpoints/latest.pt is built by hand (docs/training-notes.md, "Monet at 256 px
# crops"): G_A = weights/monet.safetensors without its palette map, G_B and both discriminators from
# runs/monet_dark_ft, fresh generator Adam moments and image pools; crop 256, load 286, batch 4,
# decay over the whole remaining schedule. .gpu/ft holds 700 of the 1,000 training photos (what fits
# in a call) and the 272 paintings. Usage: bash scripts/gpu_monet_ft.sh MINUTES
set -u
MINUTES=${1:-3.4}
OUT=${OUT:-/tmp/gpu_out}
WORK=/tmp/gpu_ft
mkdir -p "$OUT" "$WORK"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 260 python3 -m train --resume .gpu/monet_ft256 --out "$WORK/monet_ft256" --max-steps 13000 \
    --max-minutes "$MINUTES" --sample-every 100000 --save-every 1000000 --log-every 50 >"$WORK/ft.log" 2>&1
tail -c 700 "$WORK/ft.log"; echo
python3 - "$WORK/monet_ft256/checkpoints" <<'PY'
import sys
from pathlib import Path
import torch
folder = Path(sys.argv[1])
state = torch.load(folder / "latest.pt", weights_only=True, map_location="cpu")
slim = {k: v for k, v in state.items() if k not in ("optimizers", "rank_states", "ema")}
slim.update(models=state["ema"]["models"], optimizers={}, rank_states=[])
torch.save(slim, folder / "slim.pt")
print("step", state["step"], "of", state["total_steps"], "in", round(state["train_seconds"]), "s")
PY
(cd "$WORK" && tar cf "$OUT/ft.tar" monet_ft256/checkpoints/slim.pt monet_ft256/samples/latest.png monet_ft256/losses.csv ft.log)
ls -la "$OUT"
