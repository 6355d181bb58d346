#!/usr/bin/env node
// Builds the native addon (build/Release/newton_cnn.node) with cmake-js, or, installed from
// the npm package, uses the prebuilt addon it carries when that fits.
//
// Runs as package.json's `install` and `build:native` scripts, before the TypeScript is
// compiled, so it is plain CommonJS with no dependencies beyond cmake-js itself.
//
//   node scripts/build-native.js            cmake-js compile (incremental)
//   node scripts/build-native.js --clean    cmake-js rebuild (wipes build/ first)
//
// The prebuilt addon (prebuilds/<platform>-<arch>/newton_cnn.node, CPU backend, made by
// scripts/prebuild.js; lib/native.ts loads build/Release first, then it). Nothing is compiled
// when all of these hold:
//   - it exists for this platform and arch (the package ships linux-x64) and loads here (a
//     child process requires it: a glibc or libstdc++ older than it needs fails that test);
//   - this is not a git checkout (a development tree always compiles);
//   - NEWTON_BUILD_FROM_SOURCE is not 1;
//   - no CUDA backend is wanted: NEWTON_CUDA is OFF, or AUTO (the default) and no CUDA
//     toolkit is found (nvcc on PATH, in $NEWTON_CUDA_ROOT, $CUDAToolkit_ROOT, $CUDA_PATH,
//     $CUDA_HOME or /usr/local/cuda). With a toolkit, the whole addon and libnewton_cuda.so
//     are compiled into build/Release; if that fails under AUTO (no CMake, no compiler, a
//     build error), the prebuilt is used and the install goes on with a warning.
//
// Environment:
//   NEWTON_SKIP_NATIVE_BUILD=1   do nothing (e.g. docs-only installs)
//   NEWTON_BUILD_FROM_SOURCE=1   compile even where the prebuilt addon fits
//   NEWTON_CUDA=AUTO|ON|OFF      passed to CMake as -DNEWTON_CUDA (default AUTO)
//   NEWTON_USE_NCCL=AUTO|ON|OFF  passed to CMake as -DNEWTON_USE_NCCL (default AUTO): NCCL in the
//                                CUDA backend (collectives of CUDA tensors)
//   NEWTON_ONEDNN=AUTO|ON|OFF    passed to CMake as -DNEWTON_ONEDNN (default AUTO): the CPU
//                                convolutions through oneDNN 3 (scripts/install-onednn.sh)
//   NEWTON_ONEDNN_ROOT=<dir>     where oneDNN's include/ (and lib/) are, before .cache/onednn
//   NEWTON_BUILD_JOBS=<n>        parallel build jobs (default: number of CPU cores)
//   CXX                          C++ compiler to check for / use (default c++, g++ or clang++)
//
// cmake-js works offline because package.json declares "binary": {"napi_versions": [8]}:
// it then takes the Node-API headers from the node-api-headers package instead of
// downloading Node's headers.
'use strict';

const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const MIN_CMAKE = [3, 18, 0];
const TAG = '[newton-cnn]';

function log(msg) {
  console.log(`${TAG} ${msg}`);
}

// Where a usable prebuilt addon exists, a failed build under NEWTON_CUDA=AUTO falls back to it
// (set by main()); otherwise a failure ends the install.
let fallbackPrebuilt = null;

function fail(msg) {
  if (fallbackPrebuilt) {
    console.error(`${TAG} WARNING: ${msg}`);
    log(`the build failed; using the prebuilt addon ${path.relative(ROOT, fallbackPrebuilt)} ` +
      '(CPU backend only; fix the build and run `npm rebuild newton-cnn` for CUDA).');
    process.exit(0);
  }
  console.error(`${TAG} ERROR: ${msg}`);
  process.exit(1);
}

// The prebuilt addon for this platform, when it exists and loads in this Node.js; else null
// (with the reason logged).
function usablePrebuilt() {
  const addon = path.join(ROOT, 'prebuilds', `${process.platform}-${process.arch}`, 'newton_cnn.node');
  if (!fs.existsSync(addon)) return null;
  const r = spawnSync(process.execPath, ['-e', 'require(process.argv[1]).blasName()', addon], { encoding: 'utf8' });
  if (r.status !== 0) {
    const why = (r.stderr || '').split('\n').find((l) => /Error|GLIBC|not found/.test(l)) || `exit ${r.status}`;
    log(`the prebuilt addon does not load here (${why.trim()}): compiling instead`);
    return null;
  }
  return addon;
}

// Whether a CUDA toolkit (nvcc) is found where CMakeLists.txt looks first.
function cudaToolkitFound() {
  const roots = ['NEWTON_CUDA_ROOT', 'CUDAToolkit_ROOT', 'CUDA_PATH', 'CUDA_HOME']
    .map((v) => process.env[v]).filter(Boolean).concat('/usr/local/cuda');
  if (roots.some((r) => fs.existsSync(path.join(r, 'bin', 'nvcc')))) return true;
  return (process.env.PATH || '').split(path.delimiter).some((d) => d && fs.existsSync(path.join(d, 'nvcc')));
}

function installHint(what) {
  const lines = [`${what} is required to build the newton-cnn native addon.`, 'Install it with:'];
  if (process.platform === 'darwin') {
    lines.push('  xcode-select --install      # C++ compiler (clang++)');
    lines.push('  brew install cmake          # CMake >= 3.18');
    lines.push('  brew install openblas       # optional: fast GEMM');
    lines.push('  brew install jpeg-turbo libpng   # optional: JPEG / PNG decoding (image folders)');
  } else if (process.platform === 'win32') {
    lines.push('  Visual Studio 2019+ with the "Desktop development with C++" workload');
    lines.push('  CMake >= 3.18 from https://cmake.org/download/ (on PATH)');
  } else {
    lines.push('  Debian/Ubuntu:  sudo apt-get install cmake g++ libopenblas-dev libturbojpeg0-dev libpng-dev');
    lines.push('  Fedora/RHEL:    sudo dnf install cmake gcc-c++ openblas-devel libjpeg-turbo-devel libpng-devel');
    lines.push('  (libopenblas-dev is optional but makes GEMM and convolutions much faster; libturbojpeg0-dev');
    lines.push('   and libpng-dev are optional and decode JPEG / PNG images for image-folder data sets)');
  }
  lines.push('Or set NEWTON_SKIP_NATIVE_BUILD=1 to skip building the addon.');
  return lines.join('\n');
}

function run(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', ...opts });
}

function parseVersion(text) {
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(text || '');
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] || 0)] : null;
}

function versionAtLeast(v, min) {
  for (let i = 0; i < 3; i++) {
    if (v[i] !== min[i]) return v[i] > min[i];
  }
  return true;
}

function checkCMake() {
  const cmake = process.env.CMAKE || 'cmake';
  const r = run(cmake, ['--version']);
  if (r.error || r.status !== 0) {
    fail(`CMake was not found on PATH (tried \`${cmake} --version\`).\n${installHint('CMake >= 3.18')}`);
  }
  const v = parseVersion(r.stdout);
  if (!v) fail(`could not parse the CMake version from:\n${r.stdout}`);
  if (!versionAtLeast(v, MIN_CMAKE)) {
    fail(`CMake ${v.join('.')} is too old; ${MIN_CMAKE.join('.')} or newer is required.\n${installHint('CMake >= 3.18')}`);
  }
  return { cmake, version: v.join('.') };
}

function checkCompiler() {
  if (process.platform === 'win32') return { cxx: 'MSVC (found by CMake)', version: '' };
  const candidates = process.env.CXX ? [process.env.CXX] : ['c++', 'g++', 'clang++'];
  for (const cxx of candidates) {
    // CXX may carry flags ("ccache g++"); try the command as the shell would.
    const parts = cxx.trim().split(/\s+/);
    const r = run(parts[0], [...parts.slice(1), '--version']);
    if (!r.error && r.status === 0) {
      return { cxx, version: (r.stdout.split('\n')[0] || '').trim() };
    }
  }
  fail(`no C++ compiler found (tried ${candidates.join(', ')}).\n${installHint('A C++17 compiler')}`);
  return null;
}

function findCMakeJs() {
  const local = path.join(ROOT, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
  if (fs.existsSync(local)) return local;
  try {
    return require.resolve('cmake-js/bin/cmake-js', { paths: [ROOT] });
  } catch (_) {
    fail('cmake-js is not installed; run `npm install` (it is a dependency of newton-cnn).');
  }
  return null;
}

function jobs() {
  const env = Number.parseInt(process.env.NEWTON_BUILD_JOBS || '', 10);
  if (Number.isInteger(env) && env > 0) return env;
  const n = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, n || 1);
}

// The value CMake has cached for `name` in build/CMakeCache.txt, or null.
function cachedCMakeValue(name) {
  let text;
  try {
    text = fs.readFileSync(path.join(ROOT, 'build', 'CMakeCache.txt'), 'utf8');
  } catch (_) {
    return null;
  }
  const m = new RegExp(`^${name}:[A-Z]+=(.*)$`, 'm').exec(text);
  return m ? m[1].trim() : null;
}

function runCMakeJs(cmakeJs, command, extra) {
  const args = [cmakeJs, command, '--directory', ROOT, ...extra];
  log(`running: node ${path.relative(ROOT, cmakeJs)} ${args.slice(1).join(' ')}`);
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit', env: process.env });
  if (r.error) fail(`could not run cmake-js: ${r.error.message}`);
  if (r.status !== 0) {
    fail(`cmake-js ${command} failed (exit ${r.status === null ? r.signal : r.status}). ` +
      'See the output above; `npm run build:native -- --clean` forces a full rebuild.');
  }
}

function main() {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log('usage: node scripts/build-native.js [--clean]\n' +
      'env: NEWTON_SKIP_NATIVE_BUILD=1, NEWTON_BUILD_FROM_SOURCE=1, NEWTON_CUDA=AUTO|ON|OFF, NEWTON_USE_NCCL=AUTO|ON|OFF, NEWTON_ONEDNN=AUTO|ON|OFF, NEWTON_BUILD_JOBS=<n>');
    return;
  }
  const unknown = argv.filter((a) => a !== '--clean');
  if (unknown.length) fail(`unknown argument(s): ${unknown.join(' ')} (usage: build-native.js [--clean])`);

  if (process.env.NEWTON_SKIP_NATIVE_BUILD === '1' || process.env.NEWTON_SKIP_NATIVE_BUILD === 'true') {
    log('NEWTON_SKIP_NATIVE_BUILD is set: skipping the native build.');
    return;
  }

  const cuda = (process.env.NEWTON_CUDA || 'AUTO').toUpperCase();
  if (!['AUTO', 'ON', 'OFF'].includes(cuda)) {
    fail(`NEWTON_CUDA must be AUTO, ON or OFF, got ${JSON.stringify(process.env.NEWTON_CUDA)}`);
  }
  const nccl = (process.env.NEWTON_USE_NCCL || 'AUTO').toUpperCase();
  if (!['AUTO', 'ON', 'OFF'].includes(nccl)) {
    fail(`NEWTON_USE_NCCL must be AUTO, ON or OFF, got ${JSON.stringify(process.env.NEWTON_USE_NCCL)}`);
  }
  const onednn = (process.env.NEWTON_ONEDNN || 'AUTO').toUpperCase();
  if (!['AUTO', 'ON', 'OFF'].includes(onednn)) {
    fail(`NEWTON_ONEDNN must be AUTO, ON or OFF, got ${JSON.stringify(process.env.NEWTON_ONEDNN)}`);
  }

  // The prebuilt addon, when it fits (see the top of this file).
  const fromSource = process.env.NEWTON_BUILD_FROM_SOURCE === '1' || process.env.NEWTON_BUILD_FROM_SOURCE === 'true';
  const checkout = fs.existsSync(path.join(ROOT, '.git'));
  if (!fromSource && !checkout && cuda !== 'ON') {
    const prebuilt = usablePrebuilt();
    if (prebuilt) {
      if (cuda === 'AUTO' && cudaToolkitFound()) {
        log('a CUDA toolkit was found: compiling the addon with the CUDA backend ' +
          '(NEWTON_CUDA=OFF uses the prebuilt CPU addon instead)');
        fallbackPrebuilt = prebuilt;
      } else {
        log(`using the prebuilt addon ${path.relative(ROOT, prebuilt)} (CPU backend, OpenBLAS inside): nothing to compile. ` +
          'NEWTON_BUILD_FROM_SOURCE=1 compiles instead.');
        return;
      }
    }
  }

  const cm = checkCMake();
  const cc = checkCompiler();
  const cmakeJs = findCMakeJs();
  const command = argv.includes('--clean') ? 'rebuild' : 'compile';
  const j = jobs();

  log(`cmake ${cm.version}; C++ compiler: ${cc.cxx}${cc.version ? ` (${cc.version})` : ''}`);
  const extra = [`--CDNEWTON_CUDA=${cuda}`, `--CDNEWTON_USE_NCCL=${nccl}`, `--CDNEWTON_ONEDNN=${onednn}`, '--parallel', String(j)];
  if (process.env.CXX && process.platform !== 'win32') extra.push('--cxx', process.env.CXX);

  const t0 = Date.now();
  // `compile` does not re-run CMake's configure step on an existing build/, so a changed
  // NEWTON_CUDA or NEWTON_USE_NCCL would be ignored: reconfigure first (keeps the cache, updates
  // the values).
  const cached = cachedCMakeValue('NEWTON_CUDA');
  const cachedNccl = cachedCMakeValue('NEWTON_USE_NCCL') ?? 'AUTO';
  const cachedOnednn = cachedCMakeValue('NEWTON_ONEDNN') ?? 'AUTO';
  if (command === 'compile' && cached !== null && (cached.toUpperCase() !== cuda || cachedNccl.toUpperCase() !== nccl ||
    cachedOnednn.toUpperCase() !== onednn)) {
    log(`NEWTON_CUDA / NEWTON_USE_NCCL / NEWTON_ONEDNN changed (${cached}/${cachedNccl}/${cachedOnednn} -> ` +
      `${cuda}/${nccl}/${onednn}): reconfiguring`);
    runCMakeJs(cmakeJs, 'configure', extra);
  }
  runCMakeJs(cmakeJs, command, extra);
  const addon = path.join(ROOT, 'build', 'Release', 'newton_cnn.node');
  if (!fs.existsSync(addon)) fail(`cmake-js finished but ${addon} was not produced.`);
  log(`built ${path.relative(ROOT, addon)} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  // A CUDA library left by an earlier NEWTON_CUDA=ON build would still be loaded next to the
  // addon: remove it when this build has none.
  const cudaLib = path.join(ROOT, 'build', 'Release', 'libnewton_cuda.so');
  if (cuda === 'OFF' && fs.existsSync(cudaLib)) {
    fs.rmSync(cudaLib);
    log('removed build/Release/libnewton_cuda.so of an earlier CUDA build (NEWTON_CUDA=OFF)');
  }
  // The TypeScript declarations of the native ops follow the op declarations.
  const gen = spawnSync(process.execPath, [path.join(__dirname, 'gen-native-ops.js')], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, NEWTON_CNN_ADDON: addon },
  });
  if (gen.status !== 0) fail('scripts/gen-native-ops.js failed (see above).');
}

main();
