#!/usr/bin/env node
// Smoke test of the node-gyp addon (build-gyp/newton_cnn.node, from `npm run build:gyp`):
// loads it through the TypeScript API (dist/lib, from `npm run build:ts`) with
// NEWTON_CNN_ADDON set, checks that info().addon is that file and not the cmake-js addon,
// and checks a few ops against hand-computed values, with every GEMM implementation the
// addon has.
//
//   node scripts/smoke-gyp.js [path/to/newton_cnn.node]
'use strict';

const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const TAG = '[smoke-gyp]';

function fail(msg) {
  console.error(`${TAG} FAIL: ${msg}`);
  process.exit(1);
}

const addonPath = path.resolve(process.argv[2] || path.join(ROOT, 'build-gyp', 'newton_cnn.node'));
if (!fs.existsSync(addonPath)) fail(`${addonPath} does not exist: run \`npm run build:gyp\` first`);
const libPath = path.join(ROOT, 'dist', 'lib', 'index.js');
if (!fs.existsSync(libPath)) fail(`${libPath} does not exist: run \`npm run build:ts\` first`);

// Must be set before dist/lib (lib/native.ts) loads the addon.
process.env.NEWTON_CNN_ADDON = addonPath;
let nc;
try {
  nc = require(libPath);
} catch (e) {
  fail(`loading dist/lib with NEWTON_CNN_ADDON=${addonPath} threw: ${e && e.stack ? e.stack : e}`);
}

let checks = 0;
function near(actual, expected, tol, what) {
  const a = Array.from(actual);
  const e = Array.from(expected);
  if (a.length !== e.length) fail(`${what}: expected ${e.length} values [${e.join(', ')}], got ${a.length} [${a.join(', ')}]`);
  for (let i = 0; i < e.length; i++) {
    if (!(Math.abs(a[i] - e[i]) <= tol * Math.max(1, Math.abs(e[i])))) {
      fail(`${what}: element ${i} is ${a[i]}, expected ${e[i]}\n  got      [${a.join(', ')}]\n  expected [${e.join(', ')}]`);
    }
  }
  checks++;
}
function sameShape(t, shape, what) {
  if (JSON.stringify(Array.from(t.shape)) !== JSON.stringify(shape)) {
    fail(`${what}: shape (${Array.from(t.shape).join(', ')}), expected (${shape.join(', ')})`);
  }
}

// --- which addon is loaded -------------------------------------------------------------------
const info = nc.info();
const real = (p) => { try { return fs.realpathSync(p); } catch (_) { return path.resolve(p); } };
if (typeof info.addon !== 'string' || real(info.addon) !== real(addonPath)) {
  fail(`info().addon is ${JSON.stringify(info.addon)}, expected the gyp addon ${addonPath}`);
}
console.log(`${TAG} addon   ${info.addon}`);
console.log(`${TAG} version ${info.version}; BLAS ${info.blas}; gemm ${info.gemm}; threads ${info.threads}`);

const { Tensor } = nc;
for (const dtype of ['float32', 'float64']) {
  const tol = dtype === 'float32' ? 1e-5 : 1e-12;

  // add
  const a = Tensor.from([1, 2, 3], { dtype });
  const b = Tensor.from([10, 20, 30], { dtype });
  near(nc.add(a, b).toArray(), [11, 22, 33], tol, `add (${dtype})`);

  // sum of 1..100
  const seq = Tensor.from(Array.from({ length: 100 }, (_, i) => i + 1), { dtype });
  const s = nc.sum(seq);
  if (s !== 5050) fail(`sum(1..100) (${dtype}) is ${s}, expected 5050`);
  checks++;

  // gemm 3x4 · 4x2, with every GEMM implementation the addon has
  const A = Tensor.from([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]], { dtype });
  const B = Tensor.from([[1, 2], [3, 4], [5, 6], [7, 8]], { dtype });
  const impls = nc.blasAvailable() ? ['blas', 'builtin'] : ['builtin'];
  const before = nc.getGemmImplementation();
  for (const impl of impls) {
    nc.setGemmImplementation(impl);
    const C = nc.gemm(A, B);
    sameShape(C, [3, 2], `gemm (${dtype}, ${impl})`);
    near(C.toArray(), [50, 60, 114, 140, 178, 220], tol, `gemm 3x4·4x2 (${dtype}, ${impl})`);
    // alpha·Aᵀ... : (4x3)ᵀ·(4x2) with A laid out transposed
    const At = Tensor.from([[1, 5, 9], [2, 6, 10], [3, 7, 11], [4, 8, 12]], { dtype });
    const C2 = nc.gemm(At, B, { transA: true, alpha: 0.5 });
    near(C2.toArray(), [25, 30, 57, 70, 89, 110], tol, `gemm transA alpha=0.5 (${dtype}, ${impl})`);
  }
  nc.setGemmImplementation(before);

  // conv2d: x (1,1,3,3) = 1..9, w (1,1,2,2) = [[1,2],[3,4]], b = 0.5, no padding
  //   y00 = 1·1+2·2+4·3+5·4 = 37 ; y01 = 2+6+15+24 = 47 ; y10 = 4+10+21+32 = 67 ; y11 = 5+12+24+36 = 77
  const x = Tensor.from([1, 2, 3, 4, 5, 6, 7, 8, 9], { dtype, shape: [1, 1, 3, 3] });
  const w = Tensor.from([1, 2, 3, 4], { dtype, shape: [1, 1, 2, 2] });
  const bias = Tensor.from([0.5], { dtype });
  const y = nc.conv2d(x, w, bias);
  sameShape(y, [1, 1, 2, 2], `conv2d (${dtype})`);
  near(y.toArray(), [37.5, 47.5, 67.5, 77.5], tol, `conv2d 3x3 * 2x2 + bias (${dtype})`);

  // conv2d with padding 1 and two output channels: x (1,1,2,2) = [[1,2],[3,4]],
  // w[0] = ones(3x3) -> every output sees the whole 2x2 input: 10;
  // w[1] = centre tap 2 -> 2x
  const x2 = Tensor.from([1, 2, 3, 4], { dtype, shape: [1, 1, 2, 2] });
  const w2 = Tensor.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0], { dtype, shape: [2, 1, 3, 3] });
  const y2 = nc.conv2d(x2, w2, null, { padding: 1 });
  sameShape(y2, [1, 2, 2, 2], `conv2d padding=1 (${dtype})`);
  near(y2.toArray(), [10, 10, 10, 10, 2, 4, 6, 8], tol, `conv2d padding=1 (${dtype})`);

  // stride 2: x (1,1,4,4) = 0..15, w = 1x1 of 3 -> picks x[0,0], x[0,2], x[2,0], x[2,2]
  const x3 = Tensor.from(Array.from({ length: 16 }, (_, i) => i), { dtype, shape: [1, 1, 4, 4] });
  const w3 = Tensor.from([3], { dtype, shape: [1, 1, 1, 1] });
  near(nc.conv2d(x3, w3, null, { stride: 2 }).toArray(), [0, 6, 24, 30], tol, `conv2d stride=2 (${dtype})`);

  for (const t of [a, b, seq, A, B, x, w, bias, y, x2, w2, y2, x3, w3]) t.dispose();
}

console.log(`${TAG} OK: ${checks} checks passed with ${addonPath}`);
