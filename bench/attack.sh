#!/usr/bin/env bash
# Hostile local clients against a release nodelogd (issue 5, items 1 and 2):
# connections that send nothing (from one address and from many), the
# HTTP/2 preface alone, HTTP/1 readers that never read, and HTTP/2
# connections of 200 zero-window streams. For each: the slowest /healthz
# from another address during the attack, nodelogd's RSS before, at peak
# and 30 s after, and its open fds. Loopback only; at most 1,100
# connections, SECONDS (<= 60) per attack.
#
# usage: bench/attack.sh [SECONDS=15]
#   NODELOGD=path/to/nodelogd to attack another build (flags it lacks are
#   not passed: set NODELOGD_ARGS to override the defaults below).
# Needs: systemd-journal-remote, curl. Data is cached in target/bench.
set -euo pipefail
SECONDS_EACH=${1:-15}
PORT=${BENCH_PORT:-10298}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/target/bench
[ -n "${NODELOGD:-}" ] || cargo build --release --quiet -p nodelogd
[ -x "$root/target/debug/nodelogd-attack" ] || cargo build --quiet -p nodelogd-tests --bins
bin=${NODELOGD:-$root/target/release/nodelogd}
tools=$root/target/debug

mkdir -p "$work/attack-log"
journal=$work/journal-100000
if [ ! -d "$journal" ]; then
  "$tools/nodelogd-fixtures" journal 100000 "$journal.tmp" && mv "$journal.tmp" "$journal"
fi
big=$work/attack-log/big.log
[ -f "$big" ] || "$tools/nodelogd-fixtures" text $((64 << 20)) "$big"

"$bin" serve --listen "127.0.0.1:$PORT" --log-dir "$work/attack-log" --journal-dir "$journal" \
  --cache-dir "$work/cache" --anonymous-auth=true --authorization-mode=AlwaysAllow \
  ${NODELOGD_ARGS:-} 2>"$work/attack-nodelogd.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1200); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done

attack() { "$tools/nodelogd-attack" "127.0.0.1:$PORT" "$pid" "$@"; }
query='/logs/?query=kubelet&query=containerd&query=kube-proxy&query=sshd'
attack idle 1030 "$SECONDS_EACH"
attack idle-spread 1030 "$SECONDS_EACH"
attack h2-preface 1030 "$SECONDS_EACH"
attack h1-stall 200 "$SECONDS_EACH" /logs/big.log
attack h1-stall 50 "$SECONDS_EACH" "$query"
attack h2-stall 5 "$SECONDS_EACH" /logs/big.log
attack h2-stall 5 "$SECONDS_EACH" "$query"
kill -0 $pid 2>/dev/null || { echo "nodelogd died" >&2; exit 1; }
