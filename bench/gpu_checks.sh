#!/usr/bin/env bash
# Every GPU figure in one run, at most 8 minutes on one GPU:
#
#     bash bench/gpu_checks.sh OUT_DIR              # on a CUDA machine
#     bash bench/gpu_checks.sh OUT_DIR --mps        # also --jobs under the MPS daemon (if it can be started)
#     bash bench/gpu_checks.sh OUT_DIR --cpu-smoke  # the whole script on a CPU with tiny settings (~3 min)
#
# 1. machine: nvidia-smi, torch, one look of lstm_core/sysmon.py (with the
#    reason where a figure cannot be read) and what a look costs;
# 2. the GPU tests (tests/test_cuda.py, skipped in CI);
# 3. every preset with a target stop once to its stop, on the held-out seed
#    set 16/36/26 (goals: literal <= 30 s, informative <= 10 s), with the
#    GPU's figures from its epochs;
# 4. the app while it trains on the GPU (bench/tui_bench.py, short):
#    keypress p95 (goal <= 50 ms) and throughput against headless (>= 95%);
# 5. `--repeats 4 --jobs J` on the GPU for J = 1, 2, 4 (literal-stateful, 3
#    epochs each): wall time, GPU utilisation;
# 6. (--mps) the same with `nvidia-cuda-mps-control -d` running.
# Each part runs under `timeout` and the script goes on when one fails or is
# cut off; it ends with OUT_DIR/gpu_checks.md (one table) and
# OUT_DIR/gpu_checks.json, and the whole log in OUT_DIR/gpu-checks.log.
# Python packages the machine lacks may sit as wheels in .whl/ (`pip download
# --no-deps -d .whl NAME==VERSION` where there is a registry); they are
# installed into /tmp/site first.
set -uo pipefail
out=${1:?usage: bash bench/gpu_checks.sh OUT_DIR [--mps | --cpu-smoke]}
shift
mode=gpu mps=0
for arg in "$@"; do
    case $arg in
        --cpu-smoke) mode=smoke ;;
        --mps) mps=1 ;;
        *) echo "unknown option: $arg" >&2; exit 2 ;;
    esac
done
mkdir -p "$out/parts"
out=$(cd "$out" && pwd)
python=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if compgen -G ".whl/*.whl" >/dev/null; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH="/tmp/site:$PYTHONPATH"
fi
if [ "$mode" = smoke ]; then
    device=cpu smoke=--smoke
    # tiny: the paths, not the figures
    t_machine=30 t_tests=120 t_presets=240 t_tui=150 t_jobs=200 runs=2 jobs=1,2
    tests=(tests/test_cuda.py -k "keeps_model_and_data_on_the_device")
    tui=(--device cpu --epochs 2 --duration 0.5 --keys 3 --repeats 1)
    jobs_flags="--duration 0.5 --epochs 2 --hidden-size 8"
    export FREQ_TEST_DEVICE=cpu OMP_NUM_THREADS=1
else
    device=cuda smoke=
    # 20 + 120 + 170 + 90 + 80 = 480 s at most
    t_machine=20 t_tests=120 t_presets=170 t_tui=90 t_jobs=80 runs=4 jobs=1,2,4
    tests=(tests/test_cuda.py)
    tui=(--device cuda --epochs 60 --duration 10 --keys 30 --repeats 1)
    jobs_flags="--preset literal-stateful --epochs 3"
    export FREQ_TEST_DEVICE=cuda
fi
log="$out/gpu-checks.log"
started=$(date +%s)
part() {  # part NAME SECONDS COMMAND...: run it under timeout; a failure is logged, never fatal
    local name=$1 limit=$2
    shift 2
    echo
    echo "=== $name (at most $limit s; $(date +%T))"
    timeout --kill-after=10 "$limit" "$@"
    local code=$?
    [ $code -eq 124 ] && echo "=== $name: cut off at $limit s"
    [ $code -ne 0 ] && [ $code -ne 124 ] && echo "=== $name: exit $code"
    return 0
}
{
    part machine "$t_machine" "$python" bench/gpu_checks.py machine "$out" --device "$device"
    part tests "$t_tests" "$python" -m pytest -q -p no:cacheprovider -rs --junitxml "$out/parts/tests.xml" "${tests[@]}"
    part presets "$t_presets" "$python" bench/gpu_checks.py presets "$out" --device "$device" $smoke
    part tui "$t_tui" "$python" bench/tui_bench.py "${tui[@]}" --json "$out/parts/tui.json"
    part jobs "$t_jobs" "$python" bench/gpu_checks.py jobs "$out" --device "$device" --runs $runs --jobs $jobs --flags "$jobs_flags"
    if [ $mps = 1 ] && command -v nvidia-cuda-mps-control >/dev/null; then
        export CUDA_MPS_PIPE_DIRECTORY="$out/mps-pipe" CUDA_MPS_LOG_DIRECTORY="$out/mps-log"
        mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
        if nvidia-cuda-mps-control -d; then
            part jobs-mps "$t_jobs" "$python" bench/gpu_checks.py jobs "$out" --device "$device" --runs $runs --jobs 1,${jobs##*,} \
                --tag -mps --flags "$jobs_flags"
            echo quit | nvidia-cuda-mps-control
        else
            echo "=== jobs-mps: the MPS daemon did not start"
        fi
    fi
    part table 30 "$python" bench/gpu_checks.py table "$out" --wall $(( $(date +%s) - started )) --argv "$out $*"
} 2>&1 | tee "$log"
