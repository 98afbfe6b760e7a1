#!/usr/bin/env bash
# Records samples/seed-loops/ by running the two tracing loops of the seed
# workflow exactly as written there, on this Linux machine, for about 70 s.
#
# What is real: `ps -axo …` and awk see real processes; curl | jq query a real
# HTTP server on loopback. What stands in: the macOS commands (vm_stat,
# memory_pressure, sysctl) are small scripts on PATH that print the layout the
# real ones print, and `ollama` is a tiny stand-in whose `serve` and `runner`
# are real processes (a runner really holds memory) and whose `ps` prints the
# table from the state the stand-in server serves. Nothing here is a real Ollama.
set -u
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; pkill -f "$work/bin/ollama" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/trace" "$work/spool"
state="$work/state.json"
echo '{"models":[]}' > "$state"
port=11434

# --- stand-ins for the macOS commands -------------------------------------
cat > "$work/bin/vm_stat" <<'SH'
#!/usr/bin/env bash
# Free pages fall as the stand-in runners hold memory.
used=$(awk '/^MemAvailable/ {a=$2} /^MemTotal/ {t=$2} END {print int((t-a)/16)}' /proc/meminfo)
free=$(( 1400000 - used ))
printf 'Mach Virtual Memory Statistics: (page size of 16384 bytes)\n'
printf '%-30s%16d.\n' 'Pages free:' "$free" 'Pages active:' 402113 'Pages inactive:' 398331 \
  'Pages speculative:' 8120 'Pages throttled:' 0 'Pages wired down:' $(( 180000 + used )) \
  'Pages purgeable:' 2114 '"Translation faults":' 912345678 'Pages copy-on-write:' 12345678 \
  'Pages zero filled:' 456789012 'Pages reactivated:' 2345678 'Pages purged:' 345678 \
  'File-backed pages:' 240000 'Anonymous pages:' 560444 'Pages stored in compressor:' 120000 \
  'Pages occupied by compressor:' 41000 'Decompressions:' 1234567 'Compressions:' 2345678 \
  'Pageins:' 2345678 'Pageouts:' 41234 'Swapins:' 900 'Swapouts:' 1200
SH
cat > "$work/bin/memory_pressure" <<'SH'
#!/usr/bin/env bash
pct=$(awk '/^MemAvailable/ {a=$2} /^MemTotal/ {t=$2} END {print int(100*a/t)}' /proc/meminfo)
cat <<OUT
The system has 34359738368 (2097152 pages with a page size of 16384).

Stats: 
Pages free: 1400000 
Pages purgeable: 2114 
Pages purged: 345678 

Swap I/O:
Swapins: 900 
Swapouts: 1200 

File I/O:
Pageins: 2345678 
Pageouts: 41234 

System-wide memory free percentage: ${pct}%
OUT
SH
cat > "$work/bin/sysctl" <<'SH'
#!/usr/bin/env bash
echo 'vm.swapusage: total = 2048.00M  used = 512.25M  free = 1535.75M  (encrypted)'
SH

# --- a tiny Ollama stand-in -------------------------------------------------
cat > "$work/bin/ollama" <<SH
#!/usr/bin/env bash
case "\$1" in
  serve) # answers /api/ps from the state file; starts and stops runner children on request
    node -e 'require("http").createServer((q,r)=>{r.setHeader("content-type","application/json");r.end(require("fs").readFileSync("$state"))}).listen($port,"127.0.0.1")' &
    trap 'kill \$(jobs -p) 2>/dev/null' EXIT
    while sleep 0.3; do
      for f in "$work"/spool/*.load; do
        [ -e "\$f" ] || continue
        read -r mb blob p < "\$f"; rm -f "\$f"
        RUNNER_MB=\$mb "\$0" runner --model "/root/.ollama/models/blobs/\$blob" --port "\$p" &
      done
    done ;;
  runner) # really holds RUNNER_MB megabytes, without a child process
    printf -v held '%*s' \$(( \${RUNNER_MB:-300} * 1000000 )) ''
    while sleep 1; do :; done ;;
  ps) node -e '
    const m = JSON.parse(require("fs").readFileSync("$state")).models
    const rows = [["NAME","ID","SIZE","PROCESSOR","CONTEXT","UNTIL"], ...m.map(x => [x.name, x.digest.slice(0,12), (x.size/1e9).toFixed(1)+" GB", "100% GPU", String(x.context_length), "4 minutes from now"])]
    const w = rows[0].map((_, i) => Math.max(...rows.map(r => r[i].length)))
    rows.forEach((r, j) => console.log(r.map((c, i) => c.padEnd(w[i]) + (i === r.length - 1 ? (j ? "    " : " ") : "    ")).join("")))' ;;
esac
SH
chmod +x "$work/bin/"*
export PATH="$work/bin:$PATH"
blob() { printf 'sha256-%s' "$(printf '%s' "$1" | sha256sum | cut -c1-64)"; }
model_json() { # name digest size
  printf '{"name":"%s","model":"%s","size":%s,"digest":"%s","details":{"parent_model":"","format":"gguf","family":"llama","families":["llama"],"parameter_size":"%s","quantization_level":"Q4_K_M"},"expires_at":"2026-11-22T12:00:00.123456-08:00","size_vram":%s,"context_length":4096}' "$1" "$1" "$3" "$2" "$4" "$3"
}

cd "$work/trace"
# --- the seed's two loops, as written --------------------------------------
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
(
OUT="system-memtrace-$(date +%Y%m%d-%H%M%S).log"
while true; do
{
echo "===== $(date -u +"%Y-%m-%dT%H:%M:%SZ") ====="
vm_stat
memory_pressure
sysctl vm.swapusage
ollama ps
curl -s http://127.0.0.1:11434/api/ps | jq .
echo
} >> "$OUT"
sleep 5
done
) &

# --- the reproduction: load A, switch to B while A still runs, unload -------
sleep 6
ollama serve &
sleep 6
echo "400 $(blob 41) 40001" > "$work/spool/a.load"
sleep 2
echo "{\"models\":[$(model_json llama3.2:3b a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72 2019377376 3.2B)]}" > "$state"
sleep 18
echo "900 $(blob 42) 40002" > "$work/spool/b.load"
sleep 2
echo "{\"models\":[$(model_json qwen2.5:7b 845dbda0ea48ed749caafd9e6037047aa19acfcfd82e704d7ca97d631a0b697e 4683087332 7.6B),$(model_json llama3.2:3b a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72 2019377376 3.2B)]}" > "$state"
sleep 12
pkill -f -- "--port 40001" || true
echo "{\"models\":[$(model_json qwen2.5:7b 845dbda0ea48ed749caafd9e6037047aa19acfcfd82e704d7ca97d631a0b697e 4683087332 7.6B)]}" > "$state"
sleep 14
pkill -f -- "--port 40002" || true
echo '{"models":[]}' > "$state"
sleep 8
kill %1 %2 2>/dev/null || true
sleep 1
rm -f "$here"/*.tsv "$here"/*.log
cp "$work/trace/"* "$here/"
ls -l "$here"
