#!/usr/bin/env node
// Builds the addon a second way, with node-gyp and binding.gyp (the same CPU backend as
// the cmake-js build), and leaves it at build-gyp/newton_cnn.node.
//
// node-gyp always builds in ./build of its working directory and `rebuild` wipes that
// folder, which is where cmake-js keeps the main addon (build/Release/newton_cnn.node).
// So the gyp build runs in a copy: binding.gyp + native/ are copied into build-gyp/src
// and node-gyp runs there.
//
// Offline: node-gyp downloads Node's headers unless given --nodedir. This script passes
// the install prefix of the running node (e.g. /usr for /usr/bin/node) when
// <prefix>/include/node/node_api.h and common.gypi are there (Debian: nodejs / libnode-dev),
// or npm_config_nodedir / NEWTON_NODEDIR when set.
//
//   node scripts/build-gyp.js [-Duse_blas=false] [other node-gyp options]
//   npm run build:gyp -- -Duse_blas=false
//
// oneDNN (the CPU convolutions, native/core/cpu/onednn_conv.h): this script looks for oneDNN 3
// headers where CMakeLists.txt does ($NEWTON_ONEDNN_ROOT, .cache/onednn, /usr, /usr/local) and
// passes the prefix found as -Donednn_root=<dir> (binding.gyp); -Donednn_root= leaves it out.
'use strict';

const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'build-gyp');
const SRC = path.join(OUT, 'src');
const TARGET = path.join(OUT, 'newton_cnn.node');
const TAG = '[newton-cnn gyp]';

function log(msg) {
  console.log(`${TAG} ${msg}`);
}

function fail(msg) {
  console.error(`${TAG} ERROR: ${msg}`);
  process.exit(1);
}

function hasHeaders(dir) {
  return !!dir &&
    fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h')) &&
    (fs.existsSync(path.join(dir, 'include', 'node', 'common.gypi')) || fs.existsSync(path.join(dir, 'common.gypi')));
}

function findNodeDir() {
  const candidates = [
    process.env.NEWTON_NODEDIR,
    process.env.npm_config_nodedir,
    path.dirname(path.dirname(process.execPath)), // /usr for /usr/bin/node
    '/usr',
    '/usr/local',
  ];
  for (const dir of candidates) {
    if (hasHeaders(dir)) return path.resolve(dir);
  }
  return null;
}

function findNodeGyp() {
  const tries = [
    path.join(ROOT, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    process.env.npm_config_node_gyp,
  ];
  for (const p of tries) if (p && fs.existsSync(p)) return p;
  try {
    return require.resolve('node-gyp/bin/node-gyp.js', { paths: [ROOT] });
  } catch (_) {
    fail('node-gyp is not installed: run `npm install` (it is a devDependency).');
  }
  return null;
}

// The prefix whose include/oneapi/dnnl/dnnl_version.h is oneDNN 3.x, or '' (with the reason logged).
function findOneDnn() {
  const candidates = [process.env.NEWTON_ONEDNN_ROOT, path.join(ROOT, '.cache', 'onednn'), '/usr', '/usr/local'];
  for (const dir of candidates) {
    if (!dir) continue;
    let text;
    try {
      text = fs.readFileSync(path.join(dir, 'include', 'oneapi', 'dnnl', 'dnnl_version.h'), 'utf8');
    } catch (_) {
      continue;
    }
    const major = /^#define DNNL_VERSION_MAJOR (\d+)/m.exec(text);
    if (major && major[1] === '3') return path.resolve(dir);
    log(`oneDNN in ${dir} is not 3.x (DNNL_VERSION_MAJOR ${major ? major[1] : '?'}): not used`);
  }
  log('no oneDNN 3 headers found (run scripts/install-onednn.sh): convolutions use the built-in im2col + GEMM');
  return '';
}

function copySources() {
  fs.mkdirSync(SRC, { recursive: true });
  for (const name of ['binding.gyp', 'native']) {
    const from = path.join(ROOT, name);
    const to = path.join(SRC, name);
    if (!fs.existsSync(from)) fail(`${from} is missing`);
    fs.rmSync(to, { recursive: true, force: true });
    fs.cpSync(from, to, { recursive: true });
  }
  // node-addon-api is resolved by binding.gyp with `node -p require(...)` from build-gyp/src:
  // Node's module resolution walks up to the repository's node_modules.
}

function main() {
  const extra = process.argv.slice(2).filter((a) => a !== '--');
  if (!fs.existsSync(path.join(ROOT, 'native', 'napi'))) fail('native/napi is missing: nothing to build');
  const nodeGyp = findNodeGyp();
  const nodeDir = findNodeDir();
  copySources();

  const jobs = String(typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
  const args = [nodeGyp, 'rebuild', '--release', `--jobs=${jobs}`];
  if (nodeDir) {
    args.push(`--nodedir=${nodeDir}`);
    log(`using the installed Node headers in ${nodeDir}/include/node (offline)`);
  } else {
    log('no installed Node headers found (<prefix>/include/node/node_api.h): node-gyp will try to download them');
  }
  // gyp variables (-Duse_blas=false) must follow `--` or node-gyp's option parser eats them.
  const defines = extra.filter((a) => a.startsWith('-D'));
  if (!defines.some((d) => d.startsWith('-Donednn_root='))) {
    const onednn = findOneDnn();
    if (onednn) log(`oneDNN 3 headers in ${onednn}/include: the convolutions use it where libdnnl.so.3 loads`);
    defines.push(`-Donednn_root=${onednn}`);
  }
  args.push(...extra.filter((a) => !a.startsWith('-D')));
  if (defines.length) args.push('--', ...defines);
  log(`running in ${path.relative(ROOT, SRC)}: node ${args.map((a) => (a === nodeGyp ? path.relative(ROOT, a) : a)).join(' ')}`);

  fs.rmSync(TARGET, { force: true });
  const t0 = Date.now();
  const r = spawnSync(process.execPath, args, { cwd: SRC, stdio: 'inherit', env: process.env });
  if (r.error) fail(`could not run node-gyp: ${r.error.message}`);
  if (r.status !== 0) fail(`node-gyp rebuild failed (exit ${r.status === null ? r.signal : r.status})`);

  const built = path.join(SRC, 'build', 'Release', 'newton_cnn.node');
  if (!fs.existsSync(built)) fail(`node-gyp finished but ${built} was not produced`);
  fs.copyFileSync(built, TARGET);
  log(`built ${path.relative(ROOT, TARGET)} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  log(`load it with NEWTON_CNN_ADDON=${TARGET}`);
}

main();
