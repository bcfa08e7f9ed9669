# Shared settings for the scripts in this folder; sourced, not run.
# shellcheck shell=bash
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV_NEWEST="$REPO/.venv/newest"     # newest ansible-core, on Python >= 3.12
VENV_DEBIAN="$REPO/.venv/debian"     # Debian 12's own Python 3.11, ansible-core 2.19
COLLECTIONS="$REPO/.cache/collections"
BASE_IMAGE="localhost/homelab-debian:12"
export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS"
export ANSIBLE_HOME="$REPO/.cache/ansible"
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# as_root "$0" "$@": run the calling script again through sudo unless already root (apt and
# rootful podman need root). A fresh Debian 12 root shell has no sudo, and needs none.
as_root() {
  [ "$(id -u)" -eq 0 ] && return 0
  if command -v sudo >/dev/null 2>&1; then
    exec sudo --preserve-env=CI,SPITIKOS_ORACLE_CACHE,SPITIKOS_SHARED_SRC "$@"
  fi
  echo "$(basename "$1") needs root (apt, rootful podman): run it as root or install sudo." >&2
  exit 1
}
