#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages ReplicaScope needs (only those missing), then configures and
# builds it in ${BUILD_DIR:-build}. Needs root or sudo for the install step.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build ccache git clang-format
  clang libclang-rt-14-dev  # libFuzzer, for scripts/check.sh fuzz
  libtorch-dev libgloo-dev
  googletest libgtest-dev libbenchmark-dev
  qt6-base-dev qt6-svg-dev libqcustomplot-dev libqcustomplot2.1-qt6
  libsqlite3-dev zlib1g-dev libpng-dev libjpeg62-turbo-dev  # image folders
  librsvg2-bin  # the icon's PNGs, made at build time (resources/CMakeLists.txt)
  # scripts/check.sh package: validators and the desktop's MIME and menu databases
  desktop-file-utils appstream lintian shared-mime-info xdg-utils libfile-mimeinfo-perl
  python3 python3-torch python3-torchvision
  dataset-fashion-mnist
)

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} missing Debian package(s): ${missing[*]}"
  if [[ $(id -u) -eq 0 ]]; then
    apt_get=(apt-get)
  elif command -v sudo >/dev/null; then
    apt_get=(sudo apt-get)
  else
    echo "setup: these packages are missing and this user cannot install them (not root, no" \
         "sudo): ${missing[*]}" >&2
    echo "setup: as root, run: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${apt_get[@]}" update -qq
  "${apt_get[@]}" install -y -qq --no-install-recommends "${missing[@]}"
fi

BUILD_DIR=${BUILD_DIR:-build}
echo "setup: configuring and building in $BUILD_DIR"
# CI (CI=true, as .ci/run sets) fails on any compiler warning.
werror=OFF
[[ "${CI:-}" == true ]] && werror=ON
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DREPLICASCOPE_WERROR=$werror
cmake --build "$BUILD_DIR" --parallel "$(nproc)"
