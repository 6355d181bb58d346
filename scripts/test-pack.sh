#!/usr/bin/env bash
# The npm package, installed the way a user installs it, on a machine without a compiler.
#
#   bash scripts/test-pack.sh        (npm run test:pack; CI runs it in .ci/run)
#
# 1. builds the prebuilt addon (scripts/prebuild.js -> prebuilds/linux-x64/newton_cnn.node,
#    in build-prebuild/; NEWTON_PACK_REUSE_PREBUILT=1 keeps an existing one) and dist/ (tsc;
#    NEWTON_PACK_SKIP_TSC=1 packs the dist/ there is);
# 2. `npm pack` (the tarball must stay under NEWTON_PACK_MAX_MB, default 20 MB);
# 3. installs the tarball into a fresh project with a PATH made of symlinks to node, npm, npx,
#    sh and the core utilities only: no cmake, g++, c++, cc, gcc, clang or make, and a clean
#    environment (no NEWTON_CUDA, no CUDA_HOME);
# 4. checks that the install used the prebuilt addon and compiled nothing, that CommonJS
#    require and ESM import (named exports, top-level await) work, and trains:
#    `npx newton-cnn train --optimizer sgd --epochs 1 --train-limit 512`.
# Needs the npm registry (or a warm npm cache) for the package's dependencies. About a minute
# with a warm cache, plus the prebuilt build (under a minute on 2 cores with ccache-free cmake).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
START=$SECONDS
MAX_MB=${NEWTON_PACK_MAX_MB:-20}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/newton-cnn-pack.XXXXXX")
if [ "${KEEP:-0}" != 1 ]; then trap 'rm -rf "$WORK"' EXIT; fi
step() { printf '\n[test-pack] %s  (t=%ds)\n' "$*" "$((SECONDS - START))"; }
die() { echo "[test-pack] FAILED: $*" >&2; exit 1; }

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "[test-pack] skipped: the package carries a prebuilt addon for linux-x64 only"
  exit 0
fi

step "prebuilt addon (scripts/prebuild.js)"
if [ "${NEWTON_PACK_REUSE_PREBUILT:-0}" = 1 ] && [ -f prebuilds/linux-x64/newton_cnn.node ]; then
  echo "reusing prebuilds/linux-x64/newton_cnn.node"
else
  node scripts/prebuild.js
fi

step "TypeScript (tsc) and npm pack"
if [ "${NEWTON_PACK_SKIP_TSC:-0}" = 1 ]; then echo "NEWTON_PACK_SKIP_TSC=1: packing the dist/ there is"; else
  node node_modules/typescript/bin/tsc -p tsconfig.json
fi
npm pack --ignore-scripts --pack-destination "$WORK" > "$WORK/pack.out"
TARBALL="$WORK/$(tail -n 1 "$WORK/pack.out")"
[ -f "$TARBALL" ] || die "npm pack wrote no tarball ($(cat "$WORK/pack.out"))"
BYTES=$(wc -c < "$TARBALL")
echo "tarball: $(basename "$TARBALL"), $((BYTES / 1024)) KiB"
[ "$BYTES" -le $((MAX_MB * 1000 * 1000)) ] || die "the tarball is $BYTES bytes, over ${MAX_MB} MB"
tar -tzf "$TARBALL" > "$WORK/files.txt"
for f in package/prebuilds/linux-x64/newton_cnn.node package/prebuilds/linux-x64/OPENBLAS-COPYRIGHT package/dist/lib/index.js package/dist/lib/cli.js \
         package/LICENSE package/lib/data/bundled/fashion-mnist-small/README.md package/CMakeLists.txt; do
  grep -qx "$f" "$WORK/files.txt" || die "the tarball lacks $f"
done
! grep -q '^package/build/' "$WORK/files.txt" || die "the tarball carries build/"

step "a PATH without compilers"
BIN="$WORK/bin"
mkdir -p "$BIN"
for tool in node npm npx sh bash env cat ls mkdir rmdir rm cp mv ln chmod dirname basename readlink \
            realpath uname sed grep tr head tail wc sort mktemp touch true false test expr id tar gzip \
            timeout printf echo; do
  p=$(command -v "$tool" 2>/dev/null || true)
  case "$p" in /*) ln -sf "$(readlink -f "$p")" "$BIN/$tool" ;; esac
done
for tool in cmake g++ c++ cc gcc clang clang++ make ninja nvcc; do
  if PATH="$BIN" command -v "$tool" >/dev/null 2>&1; then die "$tool is on the restricted PATH"; fi
done
echo "PATH=$BIN: $(ls "$BIN" | tr '\n' ' ')"
# A clean environment: what the user's shell would have, minus this machine's build settings.
run_clean() {
  env -i HOME="$HOME" PATH="$BIN" TMPDIR="${TMPDIR:-/tmp}" LANG=C.UTF-8 \
    npm_config_cache="$(npm config get cache 2>/dev/null)" npm_config_fund=false \
    npm_config_audit=false npm_config_update_notifier=false "$@"
}

step "npm install <tarball> into a fresh project"
APP="$WORK/app"
mkdir -p "$APP"
printf '{ "name": "newton-cnn-pack-test", "version": "1.0.0", "private": true }\n' > "$APP/package.json"
(cd "$APP" && run_clean npm install --foreground-scripts --prefer-offline "$TARBALL") > "$WORK/install.log" 2>&1 \
  || { cat "$WORK/install.log"; die "npm install failed"; }
grep '\[newton-cnn\]' "$WORK/install.log" || true
grep -q 'using the prebuilt addon' "$WORK/install.log" || { cat "$WORK/install.log"; die "the install did not use the prebuilt addon"; }
PKG="$APP/node_modules/newton-cnn"
[ ! -e "$PKG/build" ] || die "the install created $PKG/build"

step "CommonJS and ESM"
cat > "$APP/cjs.cjs" <<'EOF'
const nc = require('newton-cnn');
const info = nc.info();
if (!/prebuilds[\\/]linux-x64[\\/]newton_cnn\.node$/.test(info.addon)) throw new Error("not the prebuilt: " + info.addon);
console.log('cjs:', JSON.stringify({ version: info.version, blas: info.blas, addon: info.addon }));
EOF
cat > "$APP/esm.mjs" <<'EOF'
import { cnn3, loadDataset, paperPreprocess, Tensor } from 'newton-cnn';
const raw = await loadDataset('fashion-mnist-small');   // top-level await
const { train } = paperPreprocess(raw.train, raw.test);
const model = cnn3(train.shape, train.classes, { seed: 0 });
{
  using t = Tensor.zeros([2, 2]);                       // Symbol.dispose, polyfilled on Node 20
  if (t.size !== 4) throw new Error('bad tensor');
}
console.log('esm:', model.numParameters, 'parameters,', train.length, 'images');
model.dispose();
EOF
(cd "$APP" && run_clean node cjs.cjs)
# `using` in plain JS needs Node 24 (V8's explicit resource management); older Nodes parse it as a
# syntax error, so the ESM file's `using` block runs only where the runtime has it.
if run_clean node -e 'new Function("{ using x = null; }")' >/dev/null 2>&1; then
  (cd "$APP" && run_clean node esm.mjs)
else
  sed -i 's/^  using t = /  const t = /' "$APP/esm.mjs"
  (cd "$APP" && run_clean node esm.mjs)
fi

step "npx newton-cnn train --optimizer sgd --epochs 1 --train-limit 512"
(cd "$APP" && run_clean timeout 300 npx --no-install newton-cnn train --optimizer sgd --epochs 1 --train-limit 512 --test-limit 500) \
  > "$WORK/train.log" 2>&1 || { cat "$WORK/train.log"; die "training failed"; }
grep -E 'test accuracy|BLAS|time:' "$WORK/train.log" || true
grep -q '^test accuracy: ' "$WORK/train.log" || { cat "$WORK/train.log"; die "no test accuracy printed"; }

step "passed: tarball $((BYTES / 1024)) KiB, installed and trained without a compiler in $((SECONDS - START)) s"
