#!/usr/bin/env bash
# nodelogd's throughput and memory next to peers run in this same script:
#   query=kubelet over a generated journal   vs journalctl with the same args
#   a raw file from the log root             vs `cat FILE | cat`
#   the same file through the file plugin     vs `cat FILE | cat`
# nodelogd's peak RSS (VmHWM) after streaming the file, and the latency of
# a small query on fresh and on kept-alive connections.
# Prints medians of RUNS runs and the ratios (peer time / nodelogd time, so
# 1.0x means as fast as the peer). Not a test: the machine is shared and
# noisy, so read the ratios, not the seconds.
#
# usage: bench/run.sh [ENTRIES=1000000] [FILE_BYTES=1073741824] [RUNS=5]
# Needs: systemd-journal-remote, curl. Data is cached in target/bench.
set -euo pipefail
ENTRIES=${1:-1000000}
BYTES=${2:-1073741824}
RUNS=${3:-5}
PORT=${BENCH_PORT:-10299}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/target/bench
bin=$root/target/release

cargo build --release --quiet -p nodelogd -p nodelogd-tests --bins
mkdir -p "$work/log"
journal=$work/journal-$ENTRIES
if [ ! -d "$journal" ]; then
  echo "generating a journal of $ENTRIES entries..." >&2
  "$bin/nodelogd-fixtures" journal "$ENTRIES" "$journal.tmp" && mv "$journal.tmp" "$journal"
fi
big=$work/log/big.log
if [ "$(stat -c %s "$big" 2>/dev/null || echo 0)" -lt "$BYTES" ]; then
  echo "generating a $BYTES-byte text file..." >&2
  "$bin/nodelogd-fixtures" text "$BYTES" "$big"
fi

"$bin/nodelogd" serve --listen "127.0.0.1:$PORT" --log-dir "$work/log" --journal-dir "$journal" \
  --cache-dir "$work/cache" --deadline-seconds 3600 --anonymous-auth=true --authorization-mode=AlwaysAllow 2>"$work/nodelogd.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done

url=http://127.0.0.1:$PORT
jargs=(--directory="$journal" --utc --no-pager --output=short-precise --unit=kubelet)

# Same bytes, or the comparison means nothing.
cmp <(curl -sS "$url/logs/?query=kubelet") <(journalctl "${jargs[@]}" 2>&1) \
  || { echo "nodelogd and journalctl disagree" >&2; exit 1; }
out_bytes=$(journalctl "${jargs[@]}" | wc -c)

# median and the like, shared by the bench scripts
source "$root/bench/lib.sh"

cat "$big" >/dev/null # page cache, for both sides
j=$(median "journalctl ${jargs[*]} > /dev/null")
n=$(median "curl -sS -o /dev/null '$url/logs/?query=kubelet'")
c=$(median "cat '$big' | cat > /dev/null")
f=$(median "curl -sS -o /dev/null '$url/logs/big.log'")
# The same file through the wasm file plugin (service "big" -> big.log).
p=$(median "curl -sS -o /dev/null '$url/logs/?query=big'")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")

# A small query, 11 times on fresh connections and 11 times on one kept
# alive (as kubectl and the API server's proxy keep them); the median of
# the last 10 of each, in ms.
small="$url/logs/?query=kubelet&tailLines=100"
median_ms() { tail -n 10 | sort -g | awk '{a[NR]=$1} END {print (a[5]+a[6])/2*1000}'; }
fresh=$(for _ in $(seq 11); do curl -sS -o /dev/null -w '%{time_total}\n' "$small"; done | median_ms)
kept_args=()
for _ in $(seq 11); do kept_args+=(-o /dev/null "$small"); done
kept=$(curl -sS -w '%{time_total}\n' "${kept_args[@]}" | median_ms)

mbps() { echo "$1 / $2 / 1048576" | bc -l; }
printf '\n%-44s %10s %10s %8s\n' "workload (median of $RUNS)" seconds MiB/s ratio
printf '%-44s %10.3f %10.1f\n' "journalctl --unit=kubelet ($ENTRIES entries)" "$j" "$(mbps "$out_bytes" "$j")"
printf '%-44s %10.3f %10.1f %7.2fx\n' "nodelogd ?query=kubelet" "$n" "$(mbps "$out_bytes" "$n")" "$(echo "$j / $n" | bc -l)"
printf '%-44s %10.3f %10.1f\n' "cat FILE | cat ($BYTES bytes)" "$c" "$(mbps "$BYTES" "$c")"
printf '%-44s %10.3f %10.1f %7.2fx\n' "nodelogd /logs/big.log" "$f" "$(mbps "$BYTES" "$f")" "$(echo "$c / $f" | bc -l)"
printf '%-44s %10.3f %10.1f %7.2fx\n' "nodelogd ?query=big (file plugin, in wasm)" "$p" "$(mbps "$BYTES" "$p")" "$(echo "$c / $p" | bc -l)"
printf '%-44s %10s KiB (%.1f MiB)\n' "nodelogd peak RSS (VmHWM) after all runs" "$hwm" "$(echo "$hwm / 1024" | bc -l)"
printf '%-44s %10.1f ms fresh, %.1f ms kept alive\n' "?query=kubelet&tailLines=100 (median of 10)" "$fresh" "$kept"
echo "expected: journal ratio >= 0.90x, file ratio >= 0.50x, peak RSS < 64 MiB, kept alive <= fresh"
