#!/usr/bin/env bash
# One lent-GPU session for issue 6, in one call that must end inside ~9 minutes:
#   1. the CUDA fp16 path: engine frames against the CPU fp32 reference (benchmarks.cuda_fidelity)
#      and the GPU benchmark table (benchmarks.bench --device cuda);
#   2. three Monet trainings side by side on the one GPU at 256 px crops (the CPU recipe used 128),
#      batch 4: a 1-minute probe measures each run's rate, then each resumes with --max-steps set
#      so that its learning-rate decay ends before the deadline;
#   3. slim checkpoints (EMA generators only, no optimisers or image pools) packed into $OUT.
# Data travels in .gpu/ (git-ignored, copied from ../shared/data by hand): .gpu/monet2photo and
# .gpu/frames (PNG frames of ../shared/data/videos). Usage: bash scripts/gpu_monet.sh SECONDS
set -u
BUDGET=${1:-540}
START=$(date +%s)
OUT=${OUT:-/tmp/gpu_out}
WORK=/tmp/gpu_runs
mkdir -p "$OUT" "$WORK"
export PYTHONUNBUFFERED=1
left() { echo $((BUDGET - ($(date +%s) - START))); }

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, cv2, safetensors; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cv2', cv2.__version__)"

echo "== CUDA fp16 fidelity ($(left) s left)"
timeout 60 python3 -m benchmarks.cuda_fidelity --frames .gpu/frames --sizes 256 480 --sheet "$OUT/fidelity.png" \
    2>&1 | tee "$WORK/fidelity.txt"
echo "== GPU benchmark ($(left) s left)"
timeout 75 python3 -m benchmarks.bench --device cuda --no-naive --e2e-seconds 0 --repeats 30 \
    --generators lite_hq resnet_9blocks --sizes 640x360 1280x720 --json "$OUT/bench_cuda.json" \
    2>&1 | tail -25 | tee "$WORK/bench.txt"

RECIPE=(--dataroot .gpu/monet2photo --generator lite_hq --decoder-norm demod --load-size 286 --crop-size 256
    --batch-size 4 --ndf 32 --lambda-grid 100 --ema-decay 0.999 --lambda-spike 0.05 --lambda-hue-keep 20
    --lambda-tv 1 --amp off --no-export --sample-every 100000 --save-every 1000000 --save-minutes 100
    --log-every 50)
declare -A EXTRA=(
    [monet256]=""
    [monet256_dark]="--dark-style-fraction 0.15"
    [monet256_dark_flat]="--dark-style-fraction 0.15 --lambda-flat-texture 3"
)

echo "== probe minute ($(left) s left)"
for run in "${!EXTRA[@]}"; do
    # shellcheck disable=SC2086
    timeout 150 python3 -m train --name "$run" --out "$WORK/$run" "${RECIPE[@]}" ${EXTRA[$run]} \
        --max-steps 1000000 --max-minutes 1.0 >"$WORK/$run.probe.log" 2>&1 &
done
wait

# Phase 2 must be saved and packed by the deadline: keep 45 s for resume start-up, the last save and
# packing; 0.92 of the probe's rate allows for the slower first steps being counted in it.
TRAIN_S=$(( $(left) - 45 ))
echo "== main phase: ${TRAIN_S} s of training each"
for run in "${!EXTRA[@]}"; do
    ckpt="$WORK/$run/checkpoints/latest.pt"
    if [ ! -f "$ckpt" ]; then echo "$run: probe failed"; tail -5 "$WORK/$run.probe.log"; continue; fi
    steps=$(python3 -c "
import torch; c = torch.load('$ckpt', weights_only=True, map_location='cpu')
print(int(c['step'] + 0.92 * c['step'] / c['train_seconds'] * $TRAIN_S))")
    echo "$run: probe reached $(python3 -c "import torch; c=torch.load('$ckpt',weights_only=True,map_location='cpu'); print(c['step'], 'steps in', round(c['train_seconds']), 's')"); planning $steps"
    timeout $((TRAIN_S + 40)) python3 -m train --resume "$WORK/$run" --max-steps "$steps" \
        --max-minutes "$(python3 -c "print(($TRAIN_S + 10) / 60)")" >"$WORK/$run.main.log" 2>&1 &
done
wait

echo "== packing ($(left) s left)"
python3 - "$WORK" <<'EOF'
import sys
from pathlib import Path
import torch
work = Path(sys.argv[1])
for ckpt in sorted(work.glob("*/checkpoints/latest.pt")):
    state = torch.load(ckpt, weights_only=True, map_location="cpu")
    shadows = state.get("ema", {}).get("models") or {k: v for k, v in state["models"].items() if k.startswith("G")}
    slim = {k: v for k, v in state.items() if k not in ("optimizers", "rank_states", "ema", "scalers", "schedulers")}
    slim.update(models=shadows, optimizers={}, rank_states=[], schedulers={}, scalers={})
    torch.save(slim, ckpt.parent / "slim.pt")
    print(ckpt.parent.parent.name, "step", state["step"], "of", state["total_steps"], "in", round(state["train_seconds"]), "s")
EOF
# $OUT takes files of at most 16 MiB each: the tar goes in 15 MiB parts (cat runs.tar.* | tar x).
(cd "$WORK" && tar cf - ./*/checkpoints/slim.pt ./*/samples/latest.png ./*/losses.csv ./*.log fidelity.txt bench.txt \
    | split -b 15m - "$OUT/runs.tar.")
ls -la "$OUT"
for run in "${!EXTRA[@]}"; do echo "-- $run"; tail -c 600 "$WORK/$run.main.log" 2>/dev/null; echo; done
echo "done, $(left) s left"
