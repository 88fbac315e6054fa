#!/usr/bin/env bash
# Debian packages the project needs: debootstrap (the Asterisk 22 root), Chromium
# (browser tests), espeak-ng (IVR prompts spoken from text, Turkish and English) and
# opus-tools (recordings kept as Opus when configured).
# Installs only what is missing; needs root.
set -euo pipefail
needed=()
for pkg in debootstrap chromium python3-venv espeak-ng opus-tools; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || needed+=("$pkg")
done
if [ ${#needed[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "need root to install: ${needed[*]} (sudo apt-get install -y ${needed[*]})" >&2
  exit 1
fi
echo "[install] apt-get install ${needed[*]}"
apt-get update -q >/dev/null
apt-get install -y -q "${needed[@]}" >/dev/null
