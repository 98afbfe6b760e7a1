#!/usr/bin/env bash
# `make demo`: the main job on a built-in example. Starts the Ollama stand-in
# (not a real Ollama), starts the memtrace daemon, loads one model, switches to
# a second while the first is still loaded, unloads both, stops, renders.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$PWD/out/demo"
rm -rf "$out"
mkdir -p "$out"
memtrace() { node "$PWD/dist/bin/memtrace.js" "$@"; }
export OLLAMA_HOST=127.0.0.1:${DEMO_PORT:-11436}
export OLLAMA_MODELS="$out/models"
export OLLAMA_STANDIN_SCALE=${OLLAMA_STANDIN_SCALE:-0.05}
# Simulated runners hold a share of each model's real size, so the two models differ on the chart.
export OLLAMA_STANDIN_RUNNER=${OLLAMA_STANDIN_RUNNER:-simulated}
export PATH="$(node dist/standin/install.js "$out/standin"):$PATH"
serve_pid=
cleanup() {
  memtrace stop --dir "$out/trace" >/dev/null 2>&1 || true
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null || true
}
trap cleanup EXIT

if curl -s -o /dev/null "http://$OLLAMA_HOST/" 2>/dev/null; then
  echo "something already listens on $OLLAMA_HOST; set DEMO_PORT to a free port" >&2
  exit 1
fi
ollama pull qwen2.5-coder:7b qwen3-coder:30b >/dev/null
ollama serve >"$out/standin-serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://$OLLAMA_HOST/" && break; sleep 0.1; done

step() { printf '%s  %s\n' "$(date +%H:%M:%S)" "$*"; }
memtrace start --dir "$out/trace" --ollama-url "http://$OLLAMA_HOST"
step "waiting for a quiet baseline"; sleep 6
memtrace mark --dir "$out/trace" "ollama run qwen2.5-coder:7b" >/dev/null
step "load qwen2.5-coder:7b"; ollama run qwen2.5-coder:7b "hello" >/dev/null
sleep 14
memtrace mark --dir "$out/trace" "switch to qwen3-coder:30b" >/dev/null
step "load qwen3-coder:30b while qwen2.5-coder:7b is still loaded"; ollama run qwen3-coder:30b "hello" >/dev/null
sleep 14
step "unload qwen2.5-coder:7b"; ollama stop qwen2.5-coder:7b
sleep 10
step "unload qwen3-coder:30b"; ollama stop qwen3-coder:30b
sleep 7
memtrace stop --dir "$out/trace"
memtrace render --dir "$out/trace" -o "$out/memtrace.svg"
echo
echo "The chart: $out/memtrace.svg"
echo "The traces: $out/trace/"
