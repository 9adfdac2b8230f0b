#!/usr/bin/env bash
# The GPU checks as one prepared run, for a CUDA machine that has PyTorch but no network and no
# CIFAR-10 (symloss runs from this tree through PYTHONPATH; nothing is installed):
#   1. the CUDA tests (trainer, packing, augmentation on the GPU);
#   2. throughput on paper-surrogate (ResNet9v2, batch 128) by executor, on synthetic
#      CIFAR-shaped images (benchmarks/synthetic_images.py): the speed of the real thing, not
#      its accuracies.
# Everything lands in $OUT (default /tmp/symloss-device): gpu.txt, tests.log, data.json,
# throughput.json, and throughput.log with each configuration's row as soon as it is measured,
# so a run cut short keeps what it measured. Sizes come from the environment:
#   LOSSES=16 STEPS=500 PER_CLASS=2500 BUDGET_S=330 CONFIGS=<throughput.py's CUDA default>
# About 8 minutes in all: the tests stop at 150 s, the measurement at BUDGET_S.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/symloss-device}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
DATA=$(mktemp -d)

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
  python3 -c "import numpy, sympy, torch, torchvision; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(),
'torchvision', torchvision.__version__, 'numpy', numpy.__version__, 'sympy', sympy.__version__)"; } > "$OUT/gpu.txt"
cat "$OUT/gpu.txt"

timeout 150 python3 -m pytest -q -rs -p no:cacheprovider tests/test_train.py tests/test_packing.py \
  tests/test_augment.py -k cuda 2>&1 | tee "$OUT/tests.log"

python3 benchmarks/synthetic_images.py "$DATA" --per-class "${PER_CLASS:-2500}" | tee "$OUT/data.json"
(cd benchmarks && timeout "${BUDGET_S:-330}" python3 throughput.py --preset paper-surrogate \
  --dataset imagefolder --data-root "$DATA" --losses "${LOSSES:-16}" --steps "${STEPS:-500}" \
  ${CONFIGS:+--configs "$CONFIGS"} > "$OUT/throughput.json" 2> "$OUT/throughput.log")
echo "throughput exit $?"
cat "$OUT/throughput.log"
rm -rf "$DATA"
