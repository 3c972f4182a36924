#!/usr/bin/env bash
# Every GPU check of MusicGAN Lab in one call, for a machine lent through the `device` tool:
#
#     device run:  bash benchmarks/gpu_check.sh        (timeout_s 600: the limits below add up to 570 s)
#
# Uses the machine's own python3 (PyTorch 2.11 and Triton are there; nothing to install) with
# this repository on PYTHONPATH, and leaves one log per check in $OUT (or runs/gpu_check).
# Each check has its own time limit, and one that fails does not stop the others:
#   cuda_tests  the tests that only run on a GPU (Triton synth kernel, ProGAN label clamping)
#   dcgan_step  bench_dcgan_step.py: chapter 2's step vs the eager fp32 reference, with bf16
#               autocast and torch.compile + CUDA graphs (target: >= 3x the reference)
#   synth       bench_harmonic_synth.py: the Triton kernel vs its reference (target: >= 10x)
#   syncs       cuda_sync_probe.py: which lines of a training step make the host wait
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
LOGS=${OUT:-runs/gpu_check}
mkdir -p "$LOGS"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" MUSICGAN_BATCH=1 PYTHONUNBUFFERED=1
failed=()

check() {  # check NAME SECONDS COMMAND...
  local name=$1 limit=$2
  shift 2
  echo "=== $name (limit ${limit} s): $*"
  local t0=$SECONDS
  timeout "$limit" "$@" >"$LOGS/$name.log" 2>&1
  local rc=$?
  tail -n 30 "$LOGS/$name.log"
  echo "=== $name: exit $rc after $((SECONDS - t0)) s"
  [ "$rc" -eq 0 ] || failed+=("$name (exit $rc)")
}

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv >"$LOGS/machine.txt" 2>&1
"$PY" -c "import sys, torch; print(sys.version.split()[0], 'torch', torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'NO CUDA')" >>"$LOGS/machine.txt" 2>&1
cat "$LOGS/machine.txt"
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" || { echo "gpu_check: no CUDA GPU visible to $PY; nothing to check"; exit 2; }

check cuda_tests 120 "$PY" -m pytest -q -p no:cacheprovider -o addopts= -k "cuda or gpu" tests/test_harmonic_synth.py tests/test_progan.py
check dcgan_step 240 "$PY" benchmarks/bench_dcgan_step.py --device cuda --rounds 5 --steps 20 --compile --compile-mode reduce-overhead
check synth 120 "$PY" benchmarks/bench_harmonic_synth.py --device cuda
check syncs 90 "$PY" benchmarks/cuda_sync_probe.py

if [ ${#failed[@]} -gt 0 ]; then
  echo "gpu_check: failed: ${failed[*]}; logs in $LOGS"
  exit 1
fi
echo "gpu_check: every check ran; logs in $LOGS"
