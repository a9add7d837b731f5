# Installing Debian packages for the local tools (browser.sh, tools.sh).
# Sourced, not run; the sourcing script defines say and die.

# Installs Debian packages, quietly; without root it dies with the command to run instead.
# Arguments: what is missing (for the messages), the package to name, what to say while
# installing, then the arguments of apt-get install.
apt_install() {
  local missing="$1" package="$2" doing="$3"
  shift 3
  [ "$(id -u)" = 0 ] || die "$missing and installing it needs root: apt-get install $package"
  say "$doing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed"
  apt-get install -y -qq "$@" >/dev/null || die "apt-get install $package failed"
}
