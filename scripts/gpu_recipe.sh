#!/usr/bin/env bash
# Replay a style's recipe on a lent GPU machine and bring the run back (one device call).
#
#   bash scripts/gpu_recipe.sh RECIPE --dataroot DIR [python -m train --recipe options...]
#
# e.g. through the device tool, with the data copied by hand into the git-ignored .gpu/ folder
# (only the repository travels; name .gpu in the call's `carry`):
#   BUDGET=540 bash scripts/gpu_recipe.sh monet --dataroot .gpu/monet2photo --max-steps-scale 1
# Everything after RECIPE goes to `python -m train --recipe RECIPE` (train/recipe.py): --set
# KEY=VALUE, --max-steps-scale S, --no-export, --name... The stages run into $WORK/RECIPE/STAGE
# and the export into the library $WORK/library. Training gets BUDGET seconds less RESERVE; at
# the deadline it is sent SIGTERM, saves its checkpoint at the end of the step and the recipe
# stops there (a later call can carry the run back in and go on). Then each stage's slim
# checkpoint (train/trainers/checkpoint.py: generators, configs and EMA, no optimisers or pools) is
# written, and those, the samples, loss logs, evaluations, logs and the exported style are packed
# into $OUT as runs.tar.* parts of at most 15 MiB (the device tool brings back 8 files of 16 MiB):
#   cat runs.tar.* | tar x
# Exit status: the recipe's (0 finished, 2 error, 3 a stage stopped early), or 124 when the
# training budget ran out.
# On the CPU (tests): PYTHON=.venv/bin/python OUT=$(mktemp -d) bash scripts/gpu_recipe.sh ...
set -uo pipefail
if [ $# -lt 1 ]; then
    echo "usage: bash scripts/gpu_recipe.sh RECIPE --dataroot DIR [python -m train --recipe options...]" >&2
    exit 2
fi
RECIPE=$1
shift
PY=${PYTHON:-python3}
OUT=${OUT:-/tmp/gpu_out}
WORK=${WORK:-/tmp/gpu_recipe}
BUDGET=${BUDGET:-540}
RESERVE=${RESERVE:-60}
NAME=$(basename "$RECIPE" .toml)
mkdir -p "$OUT" "$WORK"
export PYTHONUNBUFFERED=1
START=$(date +%s)

if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
fi
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

echo "== recipe $NAME: $((BUDGET - RESERVE)) s for training"
timeout --signal=TERM --kill-after=30 $((BUDGET - RESERVE)) \
    "$PY" -m train --recipe "$RECIPE" --out "$WORK/$NAME" --library "$WORK/library" --no-bars "$@" \
    2>&1 | tee "$WORK/$NAME.log"
STATUS=${PIPESTATUS[0]}
echo "== recipe ended with status $STATUS after $(($(date +%s) - START)) s; packing"

STAGES=()
for ckpt in "$WORK/$NAME"/*/checkpoints/latest.pt; do
    [ -f "$ckpt" ] && STAGES+=("$(dirname "$(dirname "$ckpt")")")
done
if [ ${#STAGES[@]} -gt 0 ]; then
    "$PY" -m train.trainers.checkpoint "${STAGES[@]}" 2>&1 | tee -a "$WORK/$NAME.log"
fi
(
    cd "$WORK" || exit 1
    files=("$NAME.log")
    for pattern in "$NAME"/*/checkpoints/slim.pt "$NAME"/*/samples/latest.png "$NAME"/*/losses.csv \
        "$NAME"/*/evaluation.json "$NAME"/*/evaluation_sheet.png library; do
        for f in $pattern; do [ -e "$f" ] && files+=("$f"); done
    done
    tar cf - "${files[@]}" | split -b 15m - "$OUT/runs.tar."
)
ls -la "$OUT"
exit "$STATUS"
