#!/usr/bin/env bash
# Install the Debian packages nde needs; does nothing when all are present.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libsundials-dev libopenblas-dev libgsl-dev check
      zlib1g-dev dataset-fashion-mnist valgrind
      libplplot-dev plplot-driver-cairo)  # PLplot: pictures of nde pwa / toy2d (PNG via pngcairo, SVG)
# `install-deps.sh fuzz` (make fuzz): clang with libFuzzer and the sanitizer runtimes.
if [ "${1:-}" = fuzz ]; then pkgs+=(clang libclang-rt-dev); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
