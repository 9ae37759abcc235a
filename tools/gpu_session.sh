#!/usr/bin/env bash
# The one script a session with a GPU runs (issue #14): everything the GPU part
# of the issue needs, in about 8 minutes on an H200, results under $OUT.
#
#   OUT=/some/folder bash tools/gpu_session.sh            # the device tool sets OUT
#   OUT=$(mktemp -d) bash tools/gpu_session.sh --dry-run  # print the parts, run nothing
#
# In a session lent a GPU: the device tool's run with command
# `bash tools/gpu_session.sh` and timeout_s 600, once (it ends within about
# GPU_SESSION_BUDGET + 1 minute); the files come back from $OUT.
#
# Parts, in this order (each runs under its own time limit; a part that fails
# or times out is recorded and the next one runs all the same):
#   env        nvidia-smi, Python and package versions
#   install    nablite importable? else pip install -e ".[test,cuda13]" from what is
#              installed (no index: the GPU machine reaches no registry), else --no-deps,
#              else PYTHONPATH=src
#   smoke      one function forward and backward in the 'cudnn' context, on CuPy
#   bench      python benchmarks/run.py --gpu (W5, W6, W7 at batch 512 vs PyTorch)
#   train_cnn  nablite train cnn in the 'cudnn' context (1000 steps)
#   tutorial   examples/by_examples.py (NNabla by examples, seed 000) in 'cudnn'
#   pytest     python -m pytest --backend=cuda, in the time that is left
# $OUT gets at most 8 files (what the device tool brings back): summary.txt
# (each part's rc and seconds), env.txt, bench.txt, examples.txt (train_cnn and
# tutorial), pytest_cuda.txt, gpu_latest.md, gpu_latest.json, gpu_latest.png.
# rc 124 (or 137) in summary.txt: the part ran into its time limit.
#
# Knobs (environment): PYTHON (default python3: the GPU machine's, with PyTorch
# and CuPy), GPU_SESSION_BUDGET (seconds for all parts, default 480),
# GPU_SESSION_WORKERS (pytest-xdist workers, default 8; 0 runs the tests in one
# process), GPU_SESSION_MAXFAIL (default 25), TUTORIAL_STEPS (default 1000),
# GPU_SESSION_PARTS (comma-separated parts to run, default all),
# GPU_BENCH_ARGS (more options for run.py --gpu, e.g. "--steps 1 --batch 4" to
# test this script under NABLITE_DEVICE_SIM=1), GPU_PYTEST_ARGS (test paths or
# options for pytest, default: the whole suite).
set -u
cd "$(dirname "$0")/.."

DRY=0
case "${1:-}" in
  --dry-run) DRY=1 ;;
  "") ;;
  *) echo "tools/gpu_session.sh: unknown option '$1' (only --dry-run)" >&2; exit 2 ;;
esac
if [ -z "${OUT:-}" ]; then
  echo "tools/gpu_session.sh: set OUT to the folder for the results (the device tool sets it)" >&2
  exit 2
fi
mkdir -p "$OUT"
PY=${PYTHON:-python3}
BUDGET=${GPU_SESSION_BUDGET:-480}
WORKERS=${GPU_SESSION_WORKERS:-8}
MAXFAIL=${GPU_SESSION_MAXFAIL:-25}
STEPS=${TUTORIAL_STEPS:-1000}
PARTS=${GPU_SESSION_PARTS:-env,install,smoke,bench,train_cnn,tutorial,pytest}
export GPU_BENCH_ARGS=${GPU_BENCH_ARGS:-}
WORK=$(mktemp -d)
START=$(date +%s)
SUMMARY="$OUT/summary.txt"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg PY OUT WORK

if [ "$DRY" = 0 ]; then
  {
    echo "tools/gpu_session.sh, started $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(uname -n)"
    echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), budget ${BUDGET} s"
    printf '%-10s %5s %8s %6s  %s\n' part rc seconds limit log
  } >"$SUMMARY"
fi

# part NAME LIMIT LOG COMMAND...: run COMMAND (a program, or a function of
# this script) under `timeout LIMIT` (SIGINT first, so that pytest still prints
# what it found), output appended to $OUT/LOG, and one line in summary.txt;
# with --dry-run only print it (a function with its body).
want() { case ",$PARTS," in *",$1,"*) return 0 ;; esac; return 1; }

part() {
  local name=$1 limit=$2 log=$3
  shift 3
  want "$name" || return 0
  local cmd=("$@")
  if declare -F "$1" >/dev/null; then
    export -f "$1"
    cmd=(bash -c "$*")
  fi
  if [ "$DRY" = 1 ]; then
    echo "[$name] limit ${limit}s, log $log: $*"
    declare -F "$1" >/dev/null && declare -f "$1" | sed 1,2d | sed '$d'
    return 0
  fi
  local t0 rc
  t0=$(date +%s)
  echo "=== [$name] $* (limit ${limit}s)" >>"$OUT/$log"
  timeout -s INT -k 15 "$limit" "${cmd[@]}" >>"$OUT/$log" 2>&1
  rc=$?
  echo "=== [$name] rc=$rc after $(( $(date +%s) - t0 )) s" >>"$OUT/$log"
  printf '%-10s %5s %8s %6s  %s\n' "$name" "$rc" "$(( $(date +%s) - t0 ))" "$limit" "$log" \
    >>"$SUMMARY"
  return $rc
}

# lim CAP [KEEP]: a part's time limit: CAP seconds, or less where the budget
# would then leave under KEEP seconds (default 120, for the test suite) for
# what comes after; 30 s at least.
lim() {
  local n=$(( BUDGET - ($(date +%s) - START) - ${2:-120} ))
  [ "$n" -gt "$1" ] && n=$1
  [ "$n" -lt 30 ] && n=30
  echo "$n"
}

# --- env ------------------------------------------------------------------
env_info() {
  nvidia-smi || echo "(nvidia-smi failed)"
  "$PY" - <<'EOF'
import importlib, platform, sys
print("python", platform.python_version(), sys.executable)
for name in ("numpy", "cupy", "torch", "google.protobuf", "tqdm", "h5py",
             "matplotlib", "pytest", "pytest_timeout", "xdist", "hypothesis", "nablite"):
    try:
        m = importlib.import_module(name)
        print(f"{name:16s} {getattr(m, '__version__', '?'):12s} {getattr(m, '__file__', '')}")
    except Exception as e:  # noqa: BLE001 - report and go on
        print(f"{name:16s} missing ({type(e).__name__}: {e})")
try:
    import cupy
    print("cupy devices", cupy.cuda.runtime.getDeviceCount(), "CUDA runtime",
          cupy.cuda.runtime.runtimeGetVersion(), "driver", cupy.cuda.runtime.driverGetVersion())
except Exception as e:  # noqa: BLE001
    print("cupy sees no GPU:", type(e).__name__, e)
try:
    import torch
    print("torch cuda", torch.cuda.is_available(), torch.version.cuda,
          torch.cuda.get_device_name() if torch.cuda.is_available() else "")
except Exception as e:  # noqa: BLE001
    print("torch:", type(e).__name__, e)
EOF
}
part env "$(lim 60)" env.txt env_info

# --- install --------------------------------------------------------------
install() {
  if "$PY" -c "import nablite" 2>/dev/null; then
    echo "nablite imports already: $("$PY" -c 'import nablite; print(nablite.__file__)')"
    return 0
  fi
  # The GPU machine reaches no package index: install from what is there.
  "$PY" -m pip install --no-index --no-build-isolation -e ".[test,cuda13]" && return 0
  echo "-- some extras are missing there; installing nablite alone (--no-deps)"
  "$PY" -m pip install --no-index --no-build-isolation --no-deps -e . && return 0
  echo "-- pip install failed; using PYTHONPATH=src"
  return 1
}
if ! part install "$(lim 120)" env.txt install && [ "$DRY" = 0 ]; then
  export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
fi

# --- smoke: does the cudnn context compute on CuPy at all? ----------------
smoke() {
  "$PY" - <<'EOF'
import numpy as np
import nablite as nn
import nablite.functions as F
from nablite import backend
from nablite.ext_utils import get_extension_context
nn.set_default_context(get_extension_context("cudnn"))
a = np.arange(-3, 3, dtype=np.float32).reshape(2, 3)
x = nn.Variable.from_numpy_array(a, need_grad=True)
y = F.sum(F.relu(x) * 2.0)
y.forward()
y.backward()
print("nablite", nn.__file__, "xp of the cudnn context:", backend.module_for("cudnn").__name__)
print("y =", float(y.d), "x.g =", x.g.tolist())
assert float(y.d) == 2 * a[a > 0].sum() and (x.g == 2 * (a > 0)).all()
print("smoke: ok")
EOF
}
part smoke "$(lim 90)" env.txt smoke

# --- the GPU benchmark ----------------------------------------------------
bench() {
  # shellcheck disable=SC2086  # GPU_BENCH_ARGS holds several options
  "$PY" benchmarks/run.py --gpu --out "$WORK/bench" $GPU_BENCH_ARGS
  local rc=$?
  for f in gpu_latest.md gpu_latest.json gpu_latest.png; do
    [ -f "$WORK/bench/$f" ] && cp "$WORK/bench/$f" "$OUT/$f"
  done
  return $rc
}
part bench "$(lim 200)" bench.txt bench

# --- nablite train cnn in the cudnn context -------------------------------
train_args=(train cnn --no-progress -o "$WORK/train_cnn")
if [ "$DRY" = 1 ]; then
  echo "[train_cnn] with --context cudnn if \`nablite train --help\` lists it, else through tools/on_cudnn.py:"
  part train_cnn "$(lim 90)" examples.txt "$PY" -m nablite "${train_args[@]}" --context cudnn
  part train_cnn "$(lim 90)" examples.txt "$PY" tools/on_cudnn.py "${train_args[@]}"
elif want train_cnn && "$PY" -m nablite train --help 2>/dev/null | grep -q -- "--context"; then
  part train_cnn "$(lim 90)" examples.txt "$PY" -m nablite "${train_args[@]}" --context cudnn
else
  part train_cnn "$(lim 90)" examples.txt "$PY" tools/on_cudnn.py "${train_args[@]}"
fi

# --- the tutorial (NNabla by examples, seed 000) in the cudnn context -----
tut_args=(examples/by_examples.py --steps "$STEPS" --out "$WORK/tutorial")
if [ "$DRY" = 1 ]; then
  echo "[tutorial] with --context cudnn if by_examples.py --help lists it, else through tools/on_cudnn.py:"
  part tutorial "$(lim 150)" examples.txt "$PY" "${tut_args[@]}" --context cudnn
  part tutorial "$(lim 150)" examples.txt "$PY" tools/on_cudnn.py "${tut_args[@]}"
elif want tutorial && "$PY" examples/by_examples.py --help 2>/dev/null | grep -q -- "--context"; then
  part tutorial "$(lim 150)" examples.txt "$PY" "${tut_args[@]}" --context cudnn
else
  part tutorial "$(lim 150)" examples.txt "$PY" tools/on_cudnn.py "${tut_args[@]}"
fi

# --- the suite on the GPU, in the time that is left -----------------------
# (no -q: pyproject.toml adds it; twice would hide the closing "N passed" line)
pytest_args=(-m pytest -p no:randomly --backend=cuda --tb=short -rfEs
             --maxfail="$MAXFAIL" --durations=15)
if [ "$DRY" = 1 ] || { want pytest && "$PY" -c "import pytest_timeout" 2>/dev/null; }; then
  pytest_args+=(--timeout=120)   # per test (pytest-timeout, where installed)
fi
if [ "$WORKERS" != 0 ] && { [ "$DRY" = 1 ] || { want pytest && "$PY" -c "import xdist" 2>/dev/null; }; }; then
  pytest_args+=(-n "$WORKERS" --dist loadfile)   # pytest-xdist, where installed
fi
read -r -a more <<<"${GPU_PYTEST_ARGS:-}"
pytest_args+=("${more[@]}")
part pytest "$(lim 300 20)" pytest_cuda.txt "$PY" "${pytest_args[@]}"

# --- what comes back ------------------------------------------------------
if [ "$DRY" = 0 ]; then
  for f in "$OUT"/*.txt; do  # 16 MiB a file at most comes back
    if [ "$(wc -c <"$f")" -gt 8000000 ]; then
      tail -c 8000000 "$f" >"$f.tail" && mv "$f.tail" "$f"
    fi
  done
  echo "total $(( $(date +%s) - START )) s; files: $(cd "$OUT" && ls | tr '\n' ' ')" >>"$SUMMARY"
  cat "$SUMMARY"
  [ -f "$OUT/gpu_latest.md" ] && cat "$OUT/gpu_latest.md"
  [ -f "$OUT/pytest_cuda.txt" ] && tail -n 5 "$OUT/pytest_cuda.txt"
fi
rm -rf "$WORK"
exit 0
