#!/usr/bin/env bash
# Installs everything Muse needs from Debian 12 packages. Idempotent: a second run installs nothing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libtorch-dev                       # tensors + autograd (1.13, CPU)
  libopenblas-dev libopenblas0-pthread
  libsentencepiece-dev sentencepiece # tokenizer
  nlohmann-json3-dev libcli11-dev libcpp-httplib-dev libstb-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-torch python3-numpy        # side-by-side benchmark only
  nodejs                             # the app's unit tests (node --test tests/app/)
  chromium                           # the app in a real browser (tests/app/browser_test.sh, headless)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The reference BLAS is ~20x slower than OpenBLAS; libtorch links libblas.so.3 through the alternatives system.
arch_dir=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
for lib in libblas.so.3 liblapack.so.3; do
  target=$(update-alternatives --list "${lib}-${arch_dir}" 2>/dev/null | grep -m1 openblas || true)
  if [ -n "$target" ]; then
    current=$(readlink -f "/etc/alternatives/${lib}-${arch_dir}" || true)
    if [ "$current" != "$(readlink -f "$target")" ]; then
      $SUDO update-alternatives --set "${lib}-${arch_dir}" "$target" >/dev/null
      echo "[setup] $lib -> $target"
    fi
  fi
done
echo "[setup] ok"
