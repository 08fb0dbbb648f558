#!/usr/bin/env bash
# The whole test suite: unit tests of every crate, then the end-to-end
# tests against real journalctl, kubectl, files and wasm plugins.
# Installs what it needs when it can (the wasm target; the Debian package
# that builds test journals) and says what is missing when it cannot.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip2

# systemd-journal-remote builds test journals; zstd (libzstd's program)
# writes the frames the patched zstd decoder is tested on.
missing=()
[ -x /lib/systemd/systemd-journal-remote ] || [ -x /usr/lib/systemd/systemd-journal-remote ] ||
  missing+=(systemd-journal-remote)
command -v zstd >/dev/null || missing+=(zstd)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq "${missing[@]}"
  else
    echo "tests/run.sh: needed: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
for tool in journalctl kubectl; do
  command -v "$tool" >/dev/null || { echo "tests/run.sh: $tool is needed on PATH" >&2; exit 1; }
done

cargo test --workspace --locked

# The systemd unit and the Kubernetes manifests (installs the pip tools it needs).
deploy/check.sh
