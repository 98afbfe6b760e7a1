#!/usr/bin/env bash
# Records samples/seed-loop-linux/ by running the seed workflow's two tracing
# loops on this Linux machine, the system loop turned into the Linux commands
# the field notes tell users to watch (free -h, /proc/pressure/memory,
# swapon --show, nvidia-smi), for about 80 s.
#
# What is real: ps and awk see real processes; free, cat and swapon read this
# kernel; curl | jq query a real HTTP server on loopback. What stands in:
# `ollama` is memtrace's Ollama stand-in (not Ollama: its runners really hold
# memory, a share of what the model would), and `nvidia-smi` is the stand-in's
# GPU, printing the driver 570+ table with what the runners would hold on it.
# When run as root on a host without swap, a 512 MiB swap file is switched on
# for the recording, so the swap line has a device; it is switched off after.
# Run from the repository root after `make build`.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
swapfile=
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  pkill -f "$work/standin" 2>/dev/null || true
  [ -n "$swapfile" ] && swapoff "$swapfile" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
if curl -s -o /dev/null http://127.0.0.1:11434/; then
  echo "something already listens on 127.0.0.1:11434 (the loop asks that address)" >&2
  exit 1
fi
export PATH="$(node "$root/dist/standin/install.js" "$work/standin" --gpu):$PATH"
export OLLAMA_MODELS="$work/models" OLLAMA_STANDIN_SCALE=0.25 OLLAMA_STANDIN_RUNNER=simulated
mkdir -p "$work/trace"
if [ "$(id -u)" = 0 ] && [ -z "$(swapon --show)" ]; then
  swapfile="$work/swapfile"
  { fallocate -l 512M "$swapfile" && chmod 600 "$swapfile" && mkswap -q "$swapfile" && swapon "$swapfile"; } 2>/dev/null || swapfile=
fi
ollama pull llama3.2:3b qwen2.5-coder:7b >/dev/null

cd "$work/trace"
# --- the seed's process loop, as written ------------------------------------
(
OUT="ollama-process-memtrace-$(date +%Y%m%d-%H%M%S).tsv"
echo -e "ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand" > "$OUT"
while true; do
ts=$(date -u +"%Y-%m-%dT%H:%M:%SZ")
ps -axo pid=,ppid=,comm=,rss=,vsz=,command= \
| awk -v ts="$ts" '
/[o]llama|[m]lx|[r]unner/ {
pid=$1; ppid=$2; comm=$3; rss=$4; vsz=$5;
$1=$2=$3=$4=$5="";
sub(/^ +/, "", $0);
print ts "\t" pid "\t" ppid "\t" comm "\t" rss "\t" vsz "\t" $0
}
' >> "$OUT"
sleep 1
done
) &
# --- the seed's system loop, with the Linux commands ------------------------
(
OUT="system-memtrace-$(date +%Y%m%d-%H%M%S).log"
while true; do
{
echo "===== $(date -u +"%Y-%m-%dT%H:%M:%SZ") ====="
free -h
cat /proc/pressure/memory
swapon --show
nvidia-smi
ollama ps
curl -s http://127.0.0.1:11434/api/ps | jq .
echo
} >> "$OUT"
sleep 5
done
) &

# --- the reproduction: load A, switch to B while A still runs, unload -------
sleep 6
ollama serve >/dev/null 2>&1 &
sleep 6
ollama run llama3.2:3b "hello" >/dev/null
sleep 18
ollama run qwen2.5-coder:7b "hello" >/dev/null
sleep 14
ollama stop llama3.2:3b
sleep 14
ollama stop qwen2.5-coder:7b
sleep 10
kill %1 %2 2>/dev/null || true
sleep 1
rm -f "$here"/*.tsv "$here"/*.log
cp "$work/trace/"* "$here/"
ls -l "$here"
