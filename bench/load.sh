#!/usr/bin/env bash
# Load on a release nodelogd from wrk, next to peers in the same run:
#   ?query=kubelet&tailLines=100   vs systemd-journal-gatewayd, the last
#                                    100 kubelet entries (Range: entries=:-100:100)
#   a small file (4 KiB)           vs nginx serving the same file
#   a directory listing (100 files) vs nginx's autoindex of the same directory
# each on 8 and 64 connections for DURATION seconds: requests/s, p50 and
# p99 latency, errors (socket errors and non-2xx answers), and nodelogd's
# peak RSS (VmHWM) after the 8- and after the 64-connection runs.
# Not a test: the machine is shared, so read the ratios, not the numbers.
#
# usage: bench/load.sh [DURATION=30] [ENTRIES=100000]
# NODELOGD_OPEN_ARGS: the flags that open nodelogd to anyone on loopback
#   (by default --anonymous-auth=true --authorization-mode=AlwaysAllow, so
#   that wrk needs no token; nodelogd refuses them off loopback).
# NODELOGD_LIMIT_ARGS: admission limits, raised by default to the 64
#   connections so that wrk measures serving, not 429s; set it empty to
#   measure the defaults (their 429s then count as errors).
# Installs wrk and nginx with apt-get when missing (as root).
set -euo pipefail
DURATION=${1:-30}
ENTRIES=${2:-100000}
NODELOGD_OPEN_ARGS=${NODELOGD_OPEN_ARGS---anonymous-auth=true --authorization-mode=AlwaysAllow}
NODELOGD_LIMIT_ARGS=${NODELOGD_LIMIT_ARGS---max-concurrent-queries 64 --max-queries-per-client 64 --max-file-requests 64 --max-file-requests-per-client 64}
PORT_N=${BENCH_PORT:-10298}
PORT_G=$((PORT_N + 1))
PORT_X=$((PORT_N + 2))
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/target/release

for tool in wrk nginx; do
  command -v "$tool" >/dev/null || apt-get install -y -qq "$tool" >/dev/null \
    || { echo "bench/load.sh: $tool is needed: apt-get install -y $tool" >&2; exit 1; }
done
gatewayd=$(ls /lib/systemd/systemd-journal-gatewayd /usr/lib/systemd/systemd-journal-gatewayd 2>/dev/null | head -n 1)
[ -n "$gatewayd" ] || { echo "bench/load.sh: apt-get install -y systemd-journal-remote (gatewayd)" >&2; exit 1; }

cargo build --release --quiet -p nodelogd
# The journal generator need not be fast: a debug build, if there is none.
fixtures=$root/target/debug/nodelogd-fixtures
[ -x "$fixtures" ] || cargo build --quiet -p nodelogd-tests --bin nodelogd-fixtures

# Data: the journal is cached in target/bench; the small files and nginx's
# files live in a temporary directory that nginx's workers can read.
mkdir -p "$root/target/bench"
journal=$root/target/bench/journal-$ENTRIES
if [ ! -d "$journal" ]; then
  echo "generating a journal of $ENTRIES entries..." >&2
  "$fixtures" journal "$ENTRIES" "$journal.tmp" && mv "$journal.tmp" "$journal"
fi
work=$(mktemp -d /tmp/nodelogd-load.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/log/dir"
head -c 4096 /dev/urandom | base64 -w 76 | head -c 4096 >"$work/log/small.log"
for i in $(seq -w 100); do echo "$i" >"$work/log/dir/file-$i.log"; done

# nodelogd
# shellcheck disable=SC2086 # the ARGS variables are word lists
"$bin/nodelogd" serve --listen "127.0.0.1:$PORT_N" --log-dir "$work/log" \
  --journal-dir "$journal" --cache-dir "$root/target/bench/cache" \
  $NODELOGD_LIMIT_ARGS $NODELOGD_OPEN_ARGS 2>"$work/nodelogd.log" &
npid=$!
pids+=("$npid")

# gatewayd, socket-activated on its own port, over the same journal.
systemd-socket-activate -l "127.0.0.1:$PORT_G" "$gatewayd" --directory="$journal" \
  2>"$work/gatewayd.log" &
pids+=($!)

# nginx: its configuration and state in the temporary directory.
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$PORT_X;
    location /logs/ { alias $work/log/; autoindex on; }
  }
}
CONF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" -g 'daemon off;' &
pids+=($!)

for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$PORT_N/healthz" >/dev/null \
    && curl -sf -o /dev/null "http://127.0.0.1:$PORT_X/logs/small.log" && break
  sleep 0.1
done

n_tail="http://127.0.0.1:$PORT_N/logs/?query=kubelet&tailLines=100"
g_tail="http://127.0.0.1:$PORT_G/entries?_SYSTEMD_UNIT=kubelet.service"
g_headers=(-H 'Accept: text/plain' -H 'Range: entries=:-100:100')
# Both tails must be 100 entries of the same journal.
n_lines=$(curl -sS "$n_tail" | wc -l)
g_lines=$(curl -sS "${g_headers[@]}" "$g_tail" | wc -l)
echo "tail sizes: nodelogd $n_lines lines, gatewayd $g_lines lines" >&2

# wrk CONNECTIONS URL [HEADER...] -> "req/s p50_ms p99_ms errors", where
# req/s counts only the 2xx/3xx answers: a 429 (the journald plugin's
# max-instances is 16, so 64 connections meet it) is not a tail served.
load() {
  local conns=$1 url=$2 out
  shift 2
  out=$(wrk -t 2 -c "$conns" -d "${DURATION}s" --latency "$@" "$url")
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec:/ { rps = $2 }
    / requests in / { reqs = $1 }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    /Socket errors:/ { gsub(/,/, ""); errs += $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { errs += $5; refused = $5 }
    END { if (reqs > 0) rps = rps * (reqs - refused) / reqs
          printf "%.0f %.2f %.2f %d\n", rps, p50, p99, errs }' <<<"$out"
}

row() { # LABEL "rps p50 p99 errs" [BASE_RPS]
  local label=$1 rps p50 p99 errs ratio=""
  read -r rps p50 p99 errs <<<"$2"
  [ -n "${3:-}" ] && ratio=$(printf '%.2fx' "$(echo "$rps / $3" | bc -l)")
  printf '%-34s %10s %9s %9s %7s %8s\n' "$label" "$rps" "$p50" "$p99" "$errs" "$ratio"
}

printf '\n%-34s %10s %9s %9s %7s %8s\n' "workload (${DURATION}s each)" req/s p50/ms p99/ms errors ratio
for conns in 8 64; do
  g=$(load "$conns" "$g_tail" "${g_headers[@]}")
  n=$(load "$conns" "$n_tail")
  row "gatewayd tail 100, $conns conns" "$g"
  row "nodelogd tail 100, $conns conns" "$n" "$(cut -d' ' -f1 <<<"$g")"
  x=$(load "$conns" "http://127.0.0.1:$PORT_X/logs/small.log")
  n=$(load "$conns" "http://127.0.0.1:$PORT_N/logs/small.log")
  row "nginx 4 KiB file, $conns conns" "$x"
  row "nodelogd 4 KiB file, $conns conns" "$n" "$(cut -d' ' -f1 <<<"$x")"
  x=$(load "$conns" "http://127.0.0.1:$PORT_X/logs/dir/")
  n=$(load "$conns" "http://127.0.0.1:$PORT_N/logs/dir/")
  row "nginx listing (100), $conns conns" "$x"
  row "nodelogd listing (100), $conns conns" "$n" "$(cut -d' ' -f1 <<<"$x")"
  printf '%-34s %10s MiB\n' "nodelogd peak RSS after $conns conns" \
    "$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$npid/status")"
done
echo "req/s: answers other than errors; ratio: nodelogd's req/s over the peer's in the row above it"
echo "expected: no errors but the tails' 429s on 64 conns (the journald plugin's 16 instances), RSS < 256 MiB at 64 conns, files >= 0.3x nginx, tails >= 2x gatewayd"
