#!/usr/bin/env bash
# The GPU checks and timings in one run, for a CUDA machine:
#
#     bash bench/gpu_checks.sh OUT_DIR
#
# 1. tests/test_cuda.py and tests/test_precision.py on the GPU (they skip in CI);
# 2. `freq-tui train --device "$device"` end to end, report included;
# 3. bench/run_bench.py on cuda (the guide's loop on the same GPU as the
#    baseline, floor, full-BPTT update, fp32/tf32/bf16, time to target);
# 4. bench/tui_bench.py on cuda (the app's throughput against headless).
# Python packages the machine lacks (textual, tomli-w, pytest-asyncio...) may
# sit as wheels in .whl/ (`pip download --no-deps -d .whl NAME==VERSION` on a
# machine with a registry); they are installed into /tmp/site first.
# DEVICE=cpu bash bench/gpu_checks.sh DIR tries the script itself on a CPU.
set -uo pipefail
out=${1:?usage: bash bench/gpu_checks.sh OUT_DIR}
device=${DEVICE:-cuda}
export FREQ_TEST_DEVICE=$device
mkdir -p "$out"
work=$(mktemp -d)
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD"
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH="/tmp/site:$PWD"
fi
log="$out/gpu-checks.log"
step() { echo; echo "=== $* ($(date +%T))"; }
{
    step "machine"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), torch.cuda.is_available() and torch.cuda.get_device_name())"

    step "tests on the GPU"
    timeout 150 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_precision.py -rs

    step "freq-tui train --device $device (defaults, 3 epochs) and its report"
    timeout 90 python3 -m lstm_core train --device "$device" --epochs 3 --run-dir "$work/run"
    cp "$work/run/results.json" "$out/cli-results.json"
    cp "$work/run/report.md" "$out/cli-report.md"

    step "bench/run_bench.py on $device"
    timeout 240 python3 bench/run_bench.py --device "$device" --epochs 2 --repeats 2 \
        --precisions fp32,tf32,bf16 --precision-epochs 10 --out "$out/results-$device.json"

    step "bench/tui_bench.py on $device"
    timeout 100 python3 bench/tui_bench.py --device "$device" --epochs 10 --duration 4 --keys 20 --repeats 2
    step "done"
} 2>&1 | tee "$log"
