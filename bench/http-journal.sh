#!/usr/bin/env bash
# nodelogd's journald source over HTTP, with the native reader (the
# default), next to peers run in this same script on the same journal:
#   query=kubelet                 vs journalctl with the kubelet's argv
#   query=kubelet&pattern=error   vs journalctl --grep=error
#   query=kubelet&tailLines=100   median latency, and requests/s on 8
#                                 connections (wrk) vs systemd-journal-gatewayd
#                                 with `Range: entries=:-100:100`
#   nodelogd's peak RSS (VmHWM) after the tails, and streaming the whole
#   journal once and 16 times at once (a fresh nodelogd for each).
# Every compared answer is first checked byte for byte. Medians of RUNS
# runs; ratios are peer time / nodelogd time (higher is better). Not a
# test: the machine is shared and noisy, so read the ratios.
#
# usage: bench/http-journal.sh [ENTRIES=1000000] [RUNS=3]
# Needs: systemd-journal-remote, systemd-journal-gatewayd, journalctl, curl,
# wrk. Data is cached in target/bench.
set -euo pipefail
ENTRIES=${1:-1000000}
RUNS=${2:-3}
PORT=${BENCH_PORT:-10298}
GPORT=${BENCH_GATEWAY_PORT:-19598}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/target/bench
bin=$root/target/release

cargo build --release --quiet -p nodelogd -p nodelogd-tests --bins
mkdir -p "$work/empty-log"
journal=$work/journal-$ENTRIES
if [ ! -d "$journal" ]; then
  echo "generating a journal of $ENTRIES entries..." >&2
  "$bin/nodelogd-fixtures" journal "$ENTRIES" "$journal.tmp" && mv "$journal.tmp" "$journal"
fi
gatewayd=$(ls /lib/systemd/systemd-journal-gatewayd /usr/lib/systemd/systemd-journal-gatewayd 2>/dev/null | head -1)

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
serve() {
  "$bin/nodelogd" serve --listen "127.0.0.1:$PORT" --log-dir "$work/empty-log" \
    --journal-dir "$journal" --cache-dir "$work/cache" --deadline-seconds 3600 \
    --max-concurrent-queries 32 --max-queries-per-client 32 \
    --anonymous-auth=true --authorization-mode=AlwaysAllow "$@" 2>>"$work/nodelogd.log" &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && return; sleep 0.05; done
  echo "nodelogd did not start" >&2; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; }
hwm() { awk '/VmHWM/ {print $2}' "/proc/$pid/status"; }

# median and the like, shared by the bench scripts
source "$root/bench/lib.sh"

url=http://127.0.0.1:$PORT/logs/
jc="journalctl --directory=$journal --utc --no-pager --output=short-precise"
cat "$journal"/* >/dev/null # page cache, for both sides

serve
printf '\n%-44s %10s %10s %8s\n' "median of $RUNS, $ENTRIES entries" peer nodelogd ratio
while IFS='|' read -r query args; do
  cmp -s <(curl -sS "$url?$query") <($jc $args 2>&1) \
    || { echo "nodelogd and journalctl disagree on $query" >&2; exit 1; }
  j=$(median "$jc $args")
  n=$(median "curl -sS '$url?$query'")
  printf '%-44s %10.3f %10.3f %7.2fx\n' "$query vs journalctl" "$j" "$n" "$(echo "$j / $n" | bc -l)"
done <<EOF
query=kubelet|--unit=kubelet
query=kubelet&pattern=error|--unit=kubelet --grep=error
EOF

# tailLines=100: latency of one request, then throughput on 8 connections.
tail="$url?query=kubelet&tailLines=100"
cmp -s <(curl -sS "$tail") <($jc --pager-end --lines=100 --unit=kubelet) \
  || { echo "nodelogd and journalctl disagree on tailLines=100" >&2; exit 1; }
lat=$(for _ in $(seq 21); do curl -sS -o /dev/null -w '%{time_total}\n' "$tail"; done \
  | sort -g | awk '{a[NR]=$1} END {print a[11] * 1000}')
rps() { wrk -t2 -c8 -d5s "$@" | awk '/Requests\/sec/ {print $2}'; }
n_rps=$(rps "$tail")
systemd-socket-activate -l "127.0.0.1:$GPORT" "$gatewayd" --directory="$journal" 2>/dev/null &
pids+=("$!")
sleep 0.5
g_url="http://127.0.0.1:$GPORT/entries?_SYSTEMD_UNIT=kubelet.service"
g_lines=$(curl -sS -H 'Range: entries=:-100:100' "$g_url" | grep -c . || true)
g_rps=$(rps -H 'Range: entries=:-100:100' "$g_url")
printf '%-44s %10s %10.2f\n' "tailLines=100 median latency (ms)" "" "$lat"
printf '%-44s %10s %10s %7.2fx\n' "tailLines=100 req/s, 8 connections" "$g_rps" "$n_rps" \
  "$(echo "$n_rps / $g_rps" | bc -l)"
echo "  (gatewayd answered $g_lines lines per request)"

# Peak RSS: the whole journal, once and 16 streams at once, each on a
# fresh nodelogd; and the peak of the one that served the tails above
# (wrk's 8 connections leave up to 8 plugin slots with their first MiB
# resident, and the tails' pages of the file being written stay mapped).
after_tails=$(hwm)
stop
serve
everything="$url?query=kubelet&query=containerd&query=kube-proxy&query=sshd"
base=$(hwm)
curl -sS -o /dev/null "$everything"
one=$(hwm)
stop
serve
curls=()
for _ in $(seq 16); do curl -sS -o /dev/null "$everything" & curls+=("$!"); done
wait "${curls[@]}"
sixteen=$(hwm)
stop
printf '%-44s %10s %10s\n' "nodelogd peak RSS (KiB): after the tails" "" "$after_tails"
printf '%-44s %10s %10s\n' "  a fresh one at start" "" "$base"
printf '%-44s %10s %10s\n' "  streaming the whole journal once" "" "$one"
printf '%-44s %10s %10s\n' "  16 streams of it at once" "" "$sixteen"
