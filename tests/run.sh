#!/usr/bin/env bash
# The whole test suite: unit tests of every crate, then the end-to-end
# tests against real journalctl, kubectl, files and wasm plugins.
# Installs what it needs when it can (the wasm target; the Debian package
# that builds test journals) and says what is missing when it cannot.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip2

if [ ! -x /lib/systemd/systemd-journal-remote ] && [ ! -x /usr/lib/systemd/systemd-journal-remote ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq systemd-journal-remote
  else
    echo "tests/run.sh: systemd-journal-remote is needed to build test journals: apt-get install -y systemd-journal-remote" >&2
    exit 1
  fi
fi
for tool in journalctl kubectl; do
  command -v "$tool" >/dev/null || { echo "tests/run.sh: $tool is needed on PATH" >&2; exit 1; }
done

cargo test --workspace --locked

# The systemd unit and the Kubernetes manifests (installs the pip tools it needs).
deploy/check.sh
