#!/usr/bin/env bash
# The GPU check of the Hugging Face student path (docs/gpu-check.md).
#
#   bash scripts/gpu-check.sh --build-wheels   # with a package index: fill dist/gpu-wheels
#   bash scripts/gpu-check.sh [--dry-run]      # on the GPU machine: install from the wheels,
#                                              # run bench/gpu_check.py, write $OUT/gpu_check.json
#
# The GPU machine has Python 3.12 with torch (CUDA), transformers, peft, accelerate and
# safetensors, but no package index: the project wheel and the core dependencies it may lack
# travel in dist/gpu-wheels (git-ignored, about 30 MiB). They are installed into a virtual
# environment that sees the system's packages, so the image's torch and transformers are used.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS="${GPU_CHECK_WHEELS:-dist/gpu-wheels}"
PYTHON="${PYTHON:-python3}"
TARGET_PYTHON="${GPU_CHECK_PYTHON_VERSION:-3.12}"

if [[ "${1:-}" == "--build-wheels" ]]; then
    rm -rf "$WHEELS"
    mkdir -p "$WHEELS"
    "$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$WHEELS" .
    # Binary wheels for the target's Python; numpy is left out (transformers needs it, so the
    # image has it) to keep what travels small.
    "$PYTHON" -m pip download --quiet --only-binary=:all: --implementation cp \
        --python-version "$TARGET_PYTHON" --platform manylinux_2_28_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --dest "$WHEELS" \
        "gymnasium>=1.0" "typer>=0.12" "rich>=13" "pyyaml>=6" "matplotlib>=3.8" "pillow>=10" \
        "pydantic>=2.6"
    rm -f "$WHEELS"/numpy-*.whl
    du -sh "$WHEELS"
    exit 0
fi

OUT="${OUT:-out}"
mkdir -p "$OUT"
if ! ls "$WHEELS"/dataenvgym-*.whl >/dev/null 2>&1; then
    echo "no project wheel in $WHEELS: run 'bash scripts/gpu-check.sh --build-wheels' first" >&2
    exit 2
fi
VENV="${GPU_CHECK_VENV:-.gpu-check-venv}"
if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv --system-site-packages "$VENV"
fi
# Installed packages that satisfy a requirement are kept; only missing ones come from WHEELS.
"$VENV/bin/python" -m pip install --quiet --no-index --find-links "$WHEELS" \
    --force-reinstall --no-deps "$WHEELS"/dataenvgym-*.whl
"$VENV/bin/python" -m pip install --quiet --no-index --find-links "$WHEELS" \
    "$WHEELS"/dataenvgym-*.whl
"$VENV/bin/python" - <<'PY'
import dataenvgym, torch, transformers, peft
print(f"dataenvgym from {dataenvgym.__file__}; torch {torch.__version__} "
      f"(CUDA {torch.version.cuda}, available: {torch.cuda.is_available()}); "
      f"transformers {transformers.__version__}; peft {peft.__version__}")
PY
# Run from outside the source tree, so the installed package (not ./src) is what runs.
BENCH="$PWD/bench/gpu_check.py"
VENV_PYTHON="$(cd "$VENV" && pwd)/bin/python"
OUT="$(cd "$OUT" && pwd)"
(cd "$OUT" && XDG_CACHE_HOME="$(mktemp -d)" "$VENV_PYTHON" "$BENCH" --out "$OUT" "$@") \
    2>&1 | tee "$OUT/gpu_check.log"
