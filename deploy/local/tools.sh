#!/usr/bin/env bash
# Command-line tools that the operations tests need and pip cannot provide.
# Usage: deploy/local/tools.sh install|status
#   install  idempotent: installs what is missing, does nothing when everything is there
#   status   lists the tools and their versions; exits 1 when one is missing
# promtool (Prometheus rule, config and metrics checks) comes from Debian's `prometheus` package.
# kubectl (for `kubectl kustomize`) and check-jsonschema come with the `dev` extras of pyproject.toml.
set -euo pipefail

say() { printf 'tools: %s\n' "$*"; }
die() { printf 'tools: ERROR: %s\n' "$*" >&2; exit 1; }

# shellcheck source=deploy/local/apt-install.sh
. "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh"

have_promtool() { command -v promtool >/dev/null 2>&1 && promtool --version >/dev/null 2>&1; }

install_promtool() {
  if have_promtool; then return; fi
  apt_install "promtool is missing" prometheus "installing promtool (Debian package prometheus)" \
    --no-install-recommends prometheus
  # We only want the command-line tool: on a machine that runs systemd, the package also enables
  # and starts a Prometheus server on :9090. Turn that off again; nothing here needs it.
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
  have_promtool || die "promtool is still missing after installing the prometheus package"
}

status() {
  local missing=0
  if have_promtool; then say "promtool: $(promtool --version 2>&1 | head -n 1)"; else say "promtool: missing"; missing=1; fi
  return "$missing"
}

case "${1:-install}" in
  install) install_promtool; status ;;
  status) status ;;
  *) echo "usage: $0 install|status" >&2; exit 2 ;;
esac
