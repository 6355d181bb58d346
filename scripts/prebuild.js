#!/usr/bin/env node
// Builds the prebuilt addon the npm package carries: prebuilds/<platform>-<arch>/newton_cnn.node
// (`npm run build:prebuilt`; linux-x64 is the platform the package ships).
//
//   node scripts/prebuild.js            build into build-prebuild/ and copy the stripped addon
//   node scripts/prebuild.js --check    only check that prebuilds/<platform>-<arch> holds one
//                                       (prepublishOnly: never publish without it)
//
// The prebuilt is the CPU backend only (NEWTON_CUDA=OFF), built for N-API 8 (package.json's
// "binary.napi_versions"), so that one file serves every Node.js >= 20 on the platform. It is
// built in its own folder, build-prebuild/, never build/ (the development build).
//
// Portability:
//   - no -march=native (CMakeLists.txt sets none): the compiler's baseline x86-64 code; the
//     CPU kernels' AVX2 and AVX-512 loops are compiled in too and only run where the processor
//     has them (note [run-time ISA] in native/core/cpu/isa.h);
//   - OpenBLAS linked statically (Debian's libopenblas-dev ships libopenblas.a, position-
//     independent code that links into a shared object, built with DYNAMIC_ARCH so it picks
//     its kernels for the CPU it runs on); its symbols are hidden (-Wl,--exclude-libs,ALL) so
//     they cannot clash with another OpenBLAS in the process. Its LAPACK half (dsyevd, for
//     symmetricEigen) calls one libgfortran routine, _gfortran_concat_string; libgfortran has
//     no static library without gfortran, so the script compiles a compatible implementation
//     (10 lines, scripts/prebuild-gfortran-shim.c) into the addon. OpenBLAS is BSD-3-Clause:
//     its copyright file is copied next to the addon (OPENBLAS-COPYRIGHT);
//   - the image decoders not linked at all (NEWTON_IMAGE_PORTABLE=ON): Debian's libturbojpeg.a
//     and libpng.a cannot go into a shared object, so the addon opens libturbojpeg.so.0 and
//     libpng16.so.16 at run time (packages libturbojpeg0, libpng16-16); where one is missing,
//     that format alone is unavailable and imageCodecs() says why. Building needs only
//     turbojpeg.h and png.h (libturbojpeg0-dev, libpng-dev);
//   - oneDNN (the CPU convolutions) not linked: the addon opens libdnnl.so.3 at run time where
//     one is installed (note [oneDNN at run time] in native/core/cpu/onednn_library.cpp:
//     $NEWTON_ONEDNN_LIBRARY, the build machine's .cache/onednn path compiled in, then the
//     loader's path) and otherwise runs the built-in im2col + GEMM; building needs only its
//     headers (scripts/install-onednn.sh);
//   - MPI left out (NEWTON_USE_MPI=OFF): libmpi cannot be linked statically into an addon and
//     must match the mpirun that starts the job, so the prebuilt has no collectives between
//     processes (mpiInfo() says why); data-parallel jobs need an addon compiled where MPI is
//     installed (libopenmpi-dev: NEWTON_BUILD_FROM_SOURCE=1 npm rebuild newton-cnn);
//   - libstdc++ and libgcc_s stay shared (Node.js itself links them): linking them statically
//     would pull in glibc 2.35/2.36 symbols (arc4random, _dl_find_object) and shut out
//     Ubuntu 22.04. The oldest glibc and libstdc++ it runs on are printed below and written to
//     prebuilds/<…>/newton_cnn.json (built on Debian 12: glibc >= 2.34, GLIBCXX_3.4.30 = the
//     libstdc++ of GCC >= 12, so Debian 12, Ubuntu 22.04, Fedora 36 and newer); where it does
//     not load, the install script compiles instead (scripts/build-native.js).
// The script refuses a result that needs any other shared library (ldd) or that fails to load.
'use strict';

const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const TAG = '[newton-cnn prebuild]';
const TARGET = `${process.platform}-${process.arch}`;
const OUT_DIR = path.join(ROOT, 'prebuilds', TARGET);
const ADDON = path.join(OUT_DIR, 'newton_cnn.node');
const BUILD_DIR = path.join(ROOT, 'build-prebuild');
// The shared libraries the prebuilt may need: glibc's, and the C++ runtime Node.js links too.
const ALLOWED = /^(libstdc\+\+\.so\.6|libgcc_s\.so\.1|linux-vdso\.so|libc\.so|libm\.so|libpthread\.so|libdl\.so|librt\.so|ld-linux[-\w.]*\.so|\/lib64\/ld-linux)/;

function log(msg) {
  console.log(`${TAG} ${msg}`);
}
function fail(msg) {
  console.error(`${TAG} ERROR: ${msg}`);
  process.exit(1);
}

function main() {
  const argv = process.argv.slice(2);
  if (argv.includes('--check')) {
    if (!fs.existsSync(ADDON)) fail(`${path.relative(ROOT, ADDON)} is missing: run \`npm run build:prebuilt\` first`);
    log(`${path.relative(ROOT, ADDON)}: ${(fs.statSync(ADDON).size / 2 ** 20).toFixed(1)} MiB`);
    return;
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    fail(`prebuilt addons are made for linux-x64 only (this is ${TARGET})`);
  }
  const staticBlas = ['/usr/lib/x86_64-linux-gnu/libopenblas.a', '/usr/lib/libopenblas.a'].find((p) => fs.existsSync(p));
  if (!staticBlas) fail('no static OpenBLAS (libopenblas.a): install libopenblas-dev');
  for (const [header, pkg] of [['/usr/include/turbojpeg.h', 'libturbojpeg0-dev'], ['/usr/include/png.h', 'libpng-dev']]) {
    if (!fs.existsSync(header)) fail(`no ${header} (the prebuilt decodes JPEG and PNG images): install ${pkg}`);
  }

  // libgfortran's concat_string, for OpenBLAS's LAPACK (see above).
  const shim = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'newton-prebuild-')), 'gfortran-shim.o');
  const cc = spawnSync(process.env.CC || 'cc', ['-O2', '-fPIC', '-fvisibility=hidden', '-c',
    path.join(__dirname, 'prebuild-gfortran-shim.c'), '-o', shim], { stdio: 'inherit' });
  if (cc.status !== 0) fail('could not compile scripts/prebuild-gfortran-shim.c');

  const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [ROOT] });
  const jobs = Number.parseInt(process.env.NEWTON_BUILD_JOBS || '', 10) || os.availableParallelism?.() || os.cpus().length || 1;
  const args = [
    cmakeJs, 'rebuild', '--directory', ROOT, '--out', BUILD_DIR, '--parallel', String(jobs),
    '--CDNEWTON_CUDA=OFF',
    '--CDBLA_STATIC=ON',
    '--CDNEWTON_IMAGE_PORTABLE=ON',
    '--CDNEWTON_USE_MPI=OFF',
    `--CDCMAKE_SHARED_LINKER_FLAGS=-Wl,--exclude-libs,ALL ${shim}`,
  ];
  log(`running: node ${args.map((a) => path.relative(ROOT, a) && !a.startsWith('-') && a.includes('/') ? path.relative(ROOT, a) : a).join(' ')}`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit', env: process.env });
  fs.rmSync(path.dirname(shim), { recursive: true, force: true });
  if (r.status !== 0) fail(`cmake-js failed (exit ${r.status ?? r.signal})`);
  const built = path.join(BUILD_DIR, 'Release', 'newton_cnn.node');
  if (!fs.existsSync(built)) fail(`${built} was not produced`);

  fs.mkdirSync(OUT_DIR, { recursive: true });
  const s = spawnSync('strip', ['--strip-unneeded', built, '-o', ADDON], { encoding: 'utf8' });
  if (s.status !== 0) {
    log(`strip failed (${(s.stderr || s.error?.message || '').trim()}); copying unstripped`);
    fs.copyFileSync(built, ADDON);
  }

  // Only glibc's libraries.
  const ldd = spawnSync('ldd', [ADDON], { encoding: 'utf8' });
  const libs = ldd.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
  const foreign = libs.filter((l) => !ALLOWED.test(l));
  log(`ldd: ${libs.join(', ')}`);
  if (foreign.length) fail(`the prebuilt needs shared libraries beyond glibc and libstdc++: ${foreign.join(', ')}`);

  // No symbol left undefined but Node-API's and the versioned ones of glibc and the C++ runtime (a missing one would end the process
  // when first called: Node loads addons with lazy binding).
  const nm = spawnSync('nm', ['-D', '--undefined-only', ADDON], { encoding: 'utf8' });
  const undefinedSymbols = (nm.stdout || '').split('\n').map((l) => l.trim().split(/\s+/))
    .filter((f) => f[0] === 'U' && !/^napi_|@(GLIBC|GLIBCXX|CXXABI|GCC)_/.test(f[1])).map((f) => f[1]);
  if (undefinedSymbols.length) fail(`undefined symbols in the prebuilt: ${undefinedSymbols.join(', ')}`);

  // The newest glibc symbol version it needs = the oldest glibc it runs on.
  const objdump = spawnSync('objdump', ['-T', ADDON], { encoding: 'utf8' });
  const versions = [...(objdump.stdout || '').matchAll(/GLIBC_(\d+)\.(\d+)(?:\.(\d+))?/g)]
    .map((m) => [Number(m[1]), Number(m[2]), Number(m[3] || 0)]);
  versions.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  const glibc = versions.length ? versions[versions.length - 1].join('.').replace(/\.0$/, '') : 'unknown';
  const cxx = [...(objdump.stdout || '').matchAll(/GLIBCXX_3\.4\.(\d+)/g)].map((m) => Number(m[1]));
  const glibcxx = cxx.length ? `3.4.${Math.max(...cxx)}` : 'none';

  // It must load, and say which GEMM it has.
  const probe = spawnSync(process.execPath, ['-e',
    'const a = require(process.argv[1]);' +
    'const e = a.lapackAvailable() ? a.symmetricEigen(Float64Array.from([2, 1, 1, 2]), 2, { vectors: true }).values : null;' +
    'const c = a.imageCodecs();' +
    'const o = a.oneDnnInfo();' +
    'console.log(JSON.stringify({ blas: a.blasName(), lapack: a.lapackAvailable(), eigen: e && Array.from(e), jpeg: c.jpeg.library, png: c.png.library, onednn: o.available ? o.version : o.reason }))', ADDON],
  { encoding: 'utf8' });
  if (probe.status !== 0) fail(`the prebuilt does not load:\n${probe.stderr}`);
  const loaded = JSON.parse(probe.stdout.trim());
  if (!loaded.jpeg || !loaded.png) fail(`the prebuilt lacks an image decoder: JPEG ${loaded.jpeg}, PNG ${loaded.png}`);
  if (loaded.lapack && !(Math.abs(loaded.eigen[0] - 1) < 1e-12 && Math.abs(loaded.eigen[1] - 3) < 1e-12)) {
    fail(`symmetricEigen in the prebuilt gave ${JSON.stringify(loaded.eigen)}, not [1, 3]`);
  }
  const meta = {
    target: TARGET,
    napi: 8,
    backends: ['cpu'],
    blas: loaded.blas,
    lapack: loaded.lapack,
    jpeg: loaded.jpeg,
    png: loaded.png,
    onednn: loaded.onednn,
    minGlibc: glibc,
    minGlibcxx: glibcxx,
    node: process.version,
    built: new Date().toISOString(),
  };
  // OpenBLAS's licence travels with the binary that contains it.
  const copyright = ['libopenblas0-pthread', 'libopenblas-pthread-dev', 'libopenblas-dev', 'libopenblas0']
    .map((d) => `/usr/share/doc/${d}/copyright`).find((f) => fs.existsSync(f));
  if (!copyright) fail("OpenBLAS's copyright file was not found in /usr/share/doc (it must ship with the prebuilt)");
  fs.copyFileSync(copyright, path.join(OUT_DIR, 'OPENBLAS-COPYRIGHT'));
  fs.writeFileSync(path.join(OUT_DIR, 'newton_cnn.json'), `${JSON.stringify(meta, null, 2)}\n`);
  log(`${path.relative(ROOT, ADDON)}: ${(fs.statSync(ADDON).size / 2 ** 20).toFixed(1)} MiB, BLAS ${loaded.blas}, ` +
    `LAPACK ${loaded.lapack ? 'yes' : 'no'}, ${loaded.jpeg}, ${loaded.png}, needs glibc >= ${glibc} and GLIBCXX_${glibcxx}; built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

main();
