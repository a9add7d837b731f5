#!/usr/bin/env bash
# Headless browser for the dashboard tests: Debian's chromium, driven by Playwright for Python
# (the `playwright` package of the dev extras, pointed at /usr/bin/chromium; Playwright's own
# browser download is never used).
# Usage: deploy/local/browser.sh install|status
#   install  idempotent: installs chromium when it is missing, does nothing when it is there
#   status   prints the chromium version; exits 1 when it is missing
set -euo pipefail

CHROMIUM=${KOTAKU_CHROMIUM:-/usr/bin/chromium}

say() { printf 'browser: %s\n' "$*"; }
die() { printf 'browser: ERROR: %s\n' "$*" >&2; exit 1; }

# shellcheck source=deploy/local/apt-install.sh
. "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh"

have_chromium() { [ -x "$CHROMIUM" ] && "$CHROMIUM" --headless --no-sandbox --version >/dev/null 2>&1; }

install_chromium() {
  if have_chromium; then return; fi
  apt_install "chromium is missing" chromium "installing chromium (Debian package)" \
    --no-install-recommends chromium fonts-dejavu-core
  have_chromium || die "chromium is still missing after installing the package"
}

status() {
  if have_chromium; then say "$("$CHROMIUM" --headless --no-sandbox --version 2>/dev/null | head -n 1)"; return 0; fi
  say "chromium: missing ($CHROMIUM)"
  return 1
}

case "${1:-install}" in
  install) install_chromium; status ;;
  status) status ;;
  *) echo "usage: $0 install|status" >&2; exit 2 ;;
esac
