#!/usr/bin/env bash
# Installs oneDNN (the CPU-only build with GNU OpenMP threads) and its headers from PyPI wheels
# into a prefix of the project's own, so that the CPU backend's convolutions can run through
# oneDNN (native/core/cpu/onednn_conv.cpp) on a machine whose distribution has no oneDNN 3.
#
#   bash scripts/install-onednn.sh [PREFIX]      (default PREFIX: .cache/onednn)
#
# Environment:
#   PIP            pip command to use (default: python3 -m pip); python3 unpacks the wheels
#   PIP_CACHE_DIR  pip's cache folder (default ~/.cache/pip). The pinned wheels (~40 MB) are
#                  downloaded once into $PIP_CACHE_DIR/newton-onednn-wheels and installed from
#                  there, so a second install on the same machine needs no network.
#
# Why these wheels (note [oneDNN at run time] in native/core/cpu/onednn_conv.cpp):
#   - onednn-cpu-gomp 2023.2.0 is oneDNN v3.2 built for the CPU only with GNU OpenMP: it needs
#     nothing beyond libgomp.so.1, which every gcc installation has. The current `onednn` wheels
#     (2026.x) are SYCL/TBB builds that need Intel's runtimes (libtbb, OpenCL, the DPC++ runtime).
#   - Debian bookworm's libdnnl-dev is oneDNN 2.6, whose API (v2) this project does not use.
# Both wheels are pinned and installed with --no-deps. When $PREFIX/STAMP already lists exactly
# these pins, nothing is done.
#
# Layout afterwards (what CMakeLists.txt looks for under .cache/onednn or $NEWTON_ONEDNN_ROOT):
#   $PREFIX/include/{dnnl.h,oneapi/dnnl/...}     headers (only these are needed to build)
#   $PREFIX/lib/libdnnl.so.3                      the library, opened at run time
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${1:-${NEWTON_ONEDNN_PREFIX:-$ROOT/.cache/onednn}}"
mkdir -p "$PREFIX"
PREFIX="$(cd "$PREFIX" && pwd)"
PIP="${PIP:-python3 -m pip}"

PINS=(
  onednn-cpu-gomp==2023.2.0
  onednn-devel-cpu-gomp==2023.2.0
)
VERSION=2023.2.0
STAMP="$PREFIX/STAMP"
WANT="$(printf '%s\n' "${PINS[@]}")"

log() { echo "[install-onednn] $*"; }

# The wheels hold only "data" files (<dist>-<version>.data/data/{lib,include}), which
# `pip install --target` mishandles (it drops lib/, taking it for its own lib/python): so the
# wheels, downloaded by pip, are unpacked as the zip files they are. This copies their files to
# $2/{lib,include} and checks that what the build and the loader need is there.
layout() {
  local site="$1" dest="$2" d
  mkdir -p "$dest/lib" "$dest/include"
  for d in "$site"/onednn_cpu_gomp-$VERSION.data/data "$site"/onednn_devel_cpu_gomp-$VERSION.data/data; do
    if [ -d "$d/lib" ]; then cp -a "$d/lib/." "$dest/lib/"; fi
    if [ -d "$d/include" ]; then cp -a "$d/include/." "$dest/include/"; fi
  done
  # The wheel holds three identical 54 MB copies (libdnnl.so, .so.3, .so.3.2): keep one.
  rm -f "$dest/lib/libdnnl.so" "$dest/lib/libdnnl.so.3.2"
  ln -s libdnnl.so.3 "$dest/lib/libdnnl.so"
  for f in "$dest/include/dnnl.h" "$dest/include/oneapi/dnnl/dnnl.h" "$dest/include/oneapi/dnnl/dnnl_version.h" \
           "$dest/lib/libdnnl.so.3"; do
    [ -e "$f" ] || { echo "[install-onednn] ERROR: $f is missing after the install (wheel layout changed?)" >&2; exit 1; }
  done
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -e "$PREFIX/lib/libdnnl.so.3" ] \
   && [ -e "$PREFIX/include/oneapi/dnnl/dnnl.h" ]; then
  log "already installed in $PREFIX (same pins): nothing to do"
else
  log "installing into $PREFIX:"
  printf '  %s\n' "${PINS[@]}"
  rm -f "$STAMP"
  WHEELS="${PIP_CACHE_DIR:-$HOME/.cache/pip}/newton-onednn-wheels"
  mkdir -p "$WHEELS"
  # `pip download` skips wheels already in $WHEELS; the install then reads only $WHEELS.
  $PIP download --disable-pip-version-check --no-input --no-deps --only-binary=:all: -d "$WHEELS" "${PINS[@]}"
  log "wheels: $(du -sh "$WHEELS" | cut -f1) in $WHEELS"
  # Built beside the old prefix and swapped in, so a build reading it meanwhile sees one or the
  # other, never half of one.
  rm -rf "$PREFIX.site" "$PREFIX.new" "$PREFIX.old"
  for pin in "${PINS[@]}"; do
    name="${pin%%==*}"
    wheel="$(ls "$WHEELS/${name//-/_}-$VERSION-"*.whl | head -n 1)"
    python3 -m zipfile -e "$wheel" "$PREFIX.site"
  done
  layout "$PREFIX.site" "$PREFIX.new"
  rm -rf "$PREFIX.site"
  echo "$WANT" > "$PREFIX.new/STAMP"
  mv "$PREFIX" "$PREFIX.old"
  mv "$PREFIX.new" "$PREFIX"
  rm -rf "$PREFIX.old"
fi

v="$(sed -n 's/^#define DNNL_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\).*/\2/p' "$PREFIX/include/oneapi/dnnl/dnnl_version.h" | paste -sd.)"
log "oneDNN $v: headers in $PREFIX/include, library $PREFIX/lib/libdnnl.so.3 ($(du -sh "$PREFIX" | cut -f1))"
if [ "$PREFIX" = "$ROOT/.cache/onednn" ]; then
  log "CMake finds this prefix by itself; NEWTON_ONEDNN=ON npm run build:native insists on it."
else
  log "build with NEWTON_ONEDNN_ROOT=$PREFIX NEWTON_ONEDNN=ON npm run build:native"
fi
