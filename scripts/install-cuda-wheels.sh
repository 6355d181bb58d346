#!/usr/bin/env bash
# Installs a CUDA 13.0 toolchain (nvcc, runtime, CCCL headers), cuBLAS and cuDNN 9 from
# PyPI wheels into a prefix of the project's own, so that the CUDA backend (cuda/) can be
# built on a machine with no CUDA toolkit and no GPU (CI, developers' machines).
#
#   bash scripts/install-cuda-wheels.sh [PREFIX]      (default PREFIX: .cache/cuda)
#
# Environment:
#   PIP            pip command to use (default: python3 -m pip)
#   PIP_CACHE_DIR  pip's cache folder (default ~/.cache/pip). The pinned wheels (~880 MB)
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
PINS=(
  nvidia-cuda-nvcc==13.0.88
  nvidia-cuda-crt==13.0.88
  nvidia-nvvm==13.0.88
  nvidia-cuda-runtime==13.0.96
  nvidia-cuda-cccl==13.0.85
  nvidia-cublas==13.0.2.14
  nvidia-cudnn-cu13==9.14.0.64
  nvidia-nvtx==13.0.85
)

CUDA_DIR="$SITE/nvidia/cu13"
CUDNN_DIR="$SITE/nvidia/cudnn"
STAMP="$PREFIX/STAMP"
WANT="$(printf '%s\n' "${PINS[@]}")"

log() { echo "[install-cuda-wheels] $*"; }

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$CUDA_DIR/bin/nvcc" ] && [ -d "$CUDNN_DIR/lib" ]; then
  log "already installed in $PREFIX (same pins): nothing to do"
else
  log "installing into $SITE:"
  printf '  %s\n' "${PINS[@]}"
  rm -rf "$SITE" "$STAMP"
  WHEELS="${PIP_CACHE_DIR:-$HOME/.cache/pip}/newton-cuda-wheels"
  mkdir -p "$WHEELS"
  # `pip download` skips wheels already in $WHEELS; the install then reads only $WHEELS.
  $PIP download --disable-pip-version-check --no-input --no-deps --only-binary=:all: -d "$WHEELS" "${PINS[@]}"
  log "wheels: $(du -sh "$WHEELS" | cut -f1) in $WHEELS"
  $PIP install --disable-pip-version-check --no-input --no-deps --no-index --find-links "$WHEELS" \
    --target "$SITE" "${PINS[@]}"
fi

for d in "$CUDA_DIR/bin" "$CUDA_DIR/include" "$CUDA_DIR/lib" "$CUDNN_DIR/include" "$CUDNN_DIR/lib"; do
  [ -d "$d" ] || { echo "[install-cuda-wheels] ERROR: expected $d after the install" >&2; exit 1; }
done

# CMake's FindCUDAToolkit looks in lib64 and for unversioned library names; the wheels
# ship lib/ and only the versioned names (libcudart.so.13, libcudnn.so.9, ...).
[ -e "$CUDA_DIR/lib64" ] || ln -s lib "$CUDA_DIR/lib64"
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
unversioned_links "$CUDA_DIR/lib"
unversioned_links "$CUDNN_DIR/lib"
for lib in "$CUDA_DIR/lib/libcudart.so" "$CUDA_DIR/lib/libcublas.so" "$CUDA_DIR/lib/libcublasLt.so" \
           "$CUDNN_DIR/lib/libcudnn.so"; do
  [ -e "$lib" ] || { echo "[install-cuda-wheels] ERROR: $lib is missing (wheel layout changed?)" >&2; exit 1; }
done
chmod +x "$CUDA_DIR/bin/"* "$CUDA_DIR/nvvm/bin/"* 2>/dev/null || true

echo "$WANT" > "$STAMP"
"$CUDA_DIR/bin/nvcc" --version | tail -n 2 | sed 's/^/  /'
log "size: $(du -sh "$SITE" | cut -f1) in $SITE"

ARGS="-DCMAKE_CUDA_COMPILER=$CUDA_DIR/bin/nvcc -DCUDAToolkit_ROOT=$CUDA_DIR -DCUDNN_ROOT=$CUDNN_DIR"
echo "$ARGS" > "$PREFIX/cmake-args.txt"
if [ "$PREFIX" = "$ROOT/.cache/cuda" ]; then
  log "CMake finds this prefix by itself; NEWTON_CUDA=ON npm run build:native builds the CUDA backend."
fi
log "CMake arguments for any prefix, with -DNEWTON_CUDA=ON (also in $PREFIX/cmake-args.txt):"
echo "$ARGS"
