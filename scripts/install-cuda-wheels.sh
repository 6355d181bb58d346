#!/usr/bin/env bash
# Installs a CUDA 13.0 toolchain (nvcc, runtime, CCCL headers), cuBLAS, cuDNN 9 and NCCL from
# PyPI wheels into a prefix of the project's own, so that the CUDA backend (cuda/) can be
# built on a machine with no CUDA toolkit and no GPU (CI, developers' machines).
#
#   bash scripts/install-cuda-wheels.sh [PREFIX]      (default PREFIX: .cache/cuda)
#
# Environment:
#   PIP            pip command to use (default: python3 -m pip)
#   PIP_CACHE_DIR  pip's cache folder (default ~/.cache/pip). The pinned wheels (~1.1 GB)
#                  are downloaded once into $PIP_CACHE_DIR/newton-cuda-wheels and installed
#                  from there, so a second install on the same machine needs no network
#                  (pip's own HTTP cache is not relied on: behind some proxies it stores nothing).
#
# Every wheel is pinned (the lent GPUs' driver is CUDA 13.0) and installed with --no-deps:
# the nvcc and cuDNN wheels name their dependencies without versions, which would pull in
# the newest CUDA. When $PREFIX/STAMP already lists exactly these pins, nothing is done.
#
# Layout afterwards (see ../shared/TOOLCHAIN.md):
#   $PREFIX/site/nvidia/cu13/{bin,include,lib,lib64 -> lib,nvvm}   toolkit, cudart, cuBLAS
#   $PREFIX/site/nvidia/cudnn/{include,lib}                        cuDNN
#   $PREFIX/site/nvidia/cu13/include/nvtx3                         NVTX 3 headers (the profiler's ranges)
#   $PREFIX/site/nvidia/nccl/{include,lib}                         NCCL (collectives of CUDA tensors)
# The last line printed is the CMake arguments to use; they are also written to
# $PREFIX/cmake-args.txt (one line) for scripts.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${1:-${NEWTON_CUDA_PREFIX:-$ROOT/.cache/cuda}}"
mkdir -p "$PREFIX"
PREFIX="$(cd "$PREFIX" && pwd)"
SITE="$PREFIX/site"
PIP="${PIP:-python3 -m pip}"

# cuDNN 9.14.0 is the release built for CUDA 13.0 at the time of CUDA 13.0 Update 2
# (the cuBLAS 13.0.2 below); its wheel requires only an unversioned nvidia-cublas.
# NCCL 2.27.7 is the first nvidia-nccl-cu13 wheel, built with CUDA 13.0 (its libnccl.so.2 says
# "NCCL version 2.27.7+cuda13.0"), the one PyTorch 2.9s CUDA 13.0 wheels depend on; later ones may be
# built with a newer CUDA 13.x than the lent GPUs' CUDA 13.0 driver runs.
PINS=(
  nvidia-cuda-nvcc==13.0.88
  nvidia-cuda-crt==13.0.88
  nvidia-nvvm==13.0.88
  nvidia-cuda-runtime==13.0.96
  nvidia-cuda-cccl==13.0.85
  nvidia-cublas==13.0.2.14
  nvidia-cudnn-cu13==9.14.0.64
  nvidia-nvtx==13.0.85
  nvidia-nccl-cu13==2.27.7
)

CUDA_DIR="$SITE/nvidia/cu13"
CUDNN_DIR="$SITE/nvidia/cudnn"
NCCL_DIR="$SITE/nvidia/nccl"
STAMP="$PREFIX/STAMP"
WANT="$(printf '%s\n' "${PINS[@]}")"

log() { echo "[install-cuda-wheels] $*"; }

# Checks a site folder's layout and adds what CMake needs: FindCUDAToolkit looks in lib64 and
# for unversioned library names; the wheels ship lib/ and only the versioned names
# (libcudart.so.13, libcudnn.so.9, libnccl.so.2, ...). Idempotent.
unversioned_links() {
  local dir="$1" f base
  for f in "$dir"/lib*.so.[0-9]*; do
    [ -e "$f" ] || continue
    base="${f##*/}"
    base="${base%%.so.*}.so"
    # Only the shortest versioned name (libfoo.so.13, not libfoo.so.13.0.96) gets a link.
    [ -e "$dir/$base" ] || ln -s "${f##*/}" "$dir/$base"
  done
}
layout() {
  local cuda="$1/nvidia/cu13" cudnn="$1/nvidia/cudnn" nccl="$1/nvidia/nccl" d lib
  for d in "$cuda/bin" "$cuda/include" "$cuda/lib" "$cudnn/include" "$cudnn/lib" "$nccl/include" "$nccl/lib"; do
    [ -d "$d" ] || { echo "[install-cuda-wheels] ERROR: expected $d after the install" >&2; exit 1; }
  done
  [ -e "$cuda/lib64" ] || ln -s lib "$cuda/lib64"
  unversioned_links "$cuda/lib"
  unversioned_links "$cudnn/lib"
  unversioned_links "$nccl/lib"
  for lib in "$cuda/lib/libcudart.so" "$cuda/lib/libcublas.so" "$cuda/lib/libcublasLt.so" \
             "$cudnn/lib/libcudnn.so" "$nccl/lib/libnccl.so" "$nccl/include/nccl.h"; do
    [ -e "$lib" ] || { echo "[install-cuda-wheels] ERROR: $lib is missing (wheel layout changed?)" >&2; exit 1; }
  done
  chmod +x "$cuda/bin/"* "$cuda/nvvm/bin/"* 2>/dev/null || true
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$CUDA_DIR/bin/nvcc" ] && [ -d "$CUDNN_DIR/lib" ] \
   && [ -d "$NCCL_DIR/lib" ]; then
  log "already installed in $PREFIX (same pins): nothing to do"
else
  log "installing into $SITE:"
  printf '  %s\n' "${PINS[@]}"
  rm -f "$STAMP"
  WHEELS="${PIP_CACHE_DIR:-$HOME/.cache/pip}/newton-cuda-wheels"
  mkdir -p "$WHEELS"
  # `pip download` skips wheels already in $WHEELS; the install then reads only $WHEELS.
  $PIP download --disable-pip-version-check --no-input --no-deps --only-binary=:all: -d "$WHEELS" "${PINS[@]}"
  log "wheels: $(du -sh "$WHEELS" | cut -f1) in $WHEELS"
  # Into a new folder that then replaces the old one: a build that uses the prefix meanwhile
  # (another checkout sharing it) sees the old toolkit or the new one, never half of one.
  rm -rf "$SITE.new" "$SITE.old"
  $PIP install --disable-pip-version-check --no-input --no-deps --no-index --find-links "$WHEELS" \
    --target "$SITE.new" "${PINS[@]}"
  layout "$SITE.new"
  if [ -d "$SITE" ]; then mv "$SITE" "$SITE.old"; fi
  mv "$SITE.new" "$SITE"
  rm -rf "$SITE.old"
fi

layout "$SITE"

echo "$WANT" > "$STAMP"
"$CUDA_DIR/bin/nvcc" --version | tail -n 2 | sed 's/^/  /'
log "size: $(du -sh "$SITE" | cut -f1) in $SITE"

ARGS="-DCMAKE_CUDA_COMPILER=$CUDA_DIR/bin/nvcc -DCUDAToolkit_ROOT=$CUDA_DIR -DCUDNN_ROOT=$CUDNN_DIR -DNCCL_ROOT=$NCCL_DIR"
echo "$ARGS" > "$PREFIX/cmake-args.txt"
if [ "$PREFIX" = "$ROOT/.cache/cuda" ]; then
  log "CMake finds this prefix by itself; NEWTON_CUDA=ON npm run build:native builds the CUDA backend."
fi
log "CMake arguments for any prefix, with -DNEWTON_CUDA=ON (also in $PREFIX/cmake-args.txt):"
echo "$ARGS"
