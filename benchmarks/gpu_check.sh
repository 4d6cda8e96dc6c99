#!/usr/bin/env bash
# The GPU run of issue 19, in one command: the CUDA tests, then benchmarks/gpu.py.
#
# On a machine with an NVIDIA GPU and PyTorch (the device tool's image has everything rnnkit
# needs but fastapi, whose tests skip), from the repository's root:
#
#     bash benchmarks/gpu_check.sh                  # about 5 minutes on an H100
#     RECIPE=1 bash benchmarks/gpu_check.sh         # then the 5-minute IMDB recipe as well
#
# IMDB (for the end-to-end sections on real reviews and the recipe) is read from
# .gpu-data/imdb/aclImdb_v1.tar.gz when it is there: copy ../shared/data/imdb/aclImdb_v1.tar.gz
# into an ignored .gpu-data/imdb/ and carry .gpu-data (56 MB). Everything lands in $OUT (or
# /tmp/gpu-check): tests.log, gpu.md, bench.log, RESULTS.md with its new `gpu` section
# (copy that section into benchmarks/RESULTS.md here), recipe.md.
set -uo pipefail
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src:$PWD" PYTHONUNBUFFERED=1 CUBLAS_WORKSPACE_CONFIG=:4096:8
PYTHON=${PYTHON:-python3}
"$PYTHON" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name(0))" \
    || { echo "gpu_check: no GPU that torch can use" >&2; exit 2; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/nvidia-smi.csv"

# 1. the CUDA tests (and the device layer's CPU tests, on this torch)
timeout 240 "$PYTHON" -m pytest -q -p no:cacheprovider -o addopts="" -m "not slow" \
    tests/cuda tests/train/test_device.py 2>&1 | tee "$OUT/tests.log"
tests=${PIPESTATUS[0]}

# 2. the benchmark (peak, step, loop, lm, infer), RESULTS.md's gpu section
data=()
[ -f .gpu-data/imdb/aclImdb_v1.tar.gz ] && data=(--data-dir .gpu-data)
timeout 300 "$PYTHON" benchmarks/gpu.py "${data[@]}" --out "$OUT/gpu.md" 2>&1 | tee "$OUT/bench.log"
bench=${PIPESTATUS[0]}
cp benchmarks/RESULTS.md "$OUT/RESULTS.md"

# 3. optionally, the pretrained IMDB recipe through the command line (needs the data)
if [ "${RECIPE:-0}" = 1 ] && [ ${#data[@]} -gt 0 ]; then
    timeout 540 "$PYTHON" benchmarks/gpu.py --sections recipe "${data[@]}" --no-write \
        --out "$OUT/recipe.md" 2>&1 | tee "$OUT/recipe.log"
fi
echo "gpu_check: tests exit $tests, benchmark exit $bench; files in $OUT"
exit $(( tests || bench ))
