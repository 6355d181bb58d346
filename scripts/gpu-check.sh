#!/usr/bin/env bash
# scripts/gpu-check.sh — check the CUDA backend on a lent GPU machine, in one device `run`.
#
# The GPU machine has nvcc (CUDA 13.0), CMake, ninja and a Python environment whose wheels
# hold cuBLAS and cuDNN, but no Node.js and no registry. It receives the working tree plus the
# ignored folder .carry/ (64 MiB in all), made here:
#
#   scripts/gpu-check.sh --prepare        here: writes .carry/ (node.xz, node_modules.tar.xz,
#                                         commit.txt), checks the 64 MiB limit, prints the
#                                         device `run` call to make
#   scripts/gpu-check.sh --remote         there, in the repo root (what the run call executes):
#                                         unpacks node and node_modules, builds with CUDA
#                                         (NEWTON_CUDA=ON), runs `test:gpu` with
#                                         NEWTON_REQUIRE_CUDA=1, an NCCL job of one (when the
#                                         build has NCCL and MPI), `bench gpu`, `bench resnet
#                                         --device cuda` and `bench ops --device cuda`, and writes
#                                         $OUT/GPU-RESULTS.md (+ logs), all in < 10 minutes
#   scripts/gpu-check.sh --collect DIR    here: copies GPU-RESULTS.md from the fetched files
#                                         (the run's files_at folder) to scripts/GPU-RESULTS.md
#   scripts/gpu-check.sh --dry-run        here and in CI: --prepare into a temp folder, the
#                                         64 MiB check, and the remote half up to the GPU step
#                                         (bash -n, node.xz runs, carried jest/tsc/cmake-js
#                                         resolve, CUDA configure with the local toolchain);
#                                         prints PASS with the sizes. --build also compiles.
#
# Environment: GPU_CHECK_XZ_LEVEL (--prepare, default 9), GPU_CHECK_DRY_XZ_LEVEL (--dry-run,
# default 0: fast, and an upper bound of the -9 sizes), GPU_CHECK_ARCHS (--remote: CUDA
# architectures to build, default the project's sm_80;sm_90;sm_100+PTX),
# GPU_CHECK_DEADLINE_S (--remote: seconds before it stops starting new stages, default 540).
set -uo pipefail

LIMIT_BYTES=$((64 * 1024 * 1024))
SCRIPT_PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
ROOT="$(cd "$(dirname "$SCRIPT_PATH")/.." && pwd)"

log() { printf '[gpu-check] %s\n' "$*"; }
die() { printf '[gpu-check] ERROR: %s\n' "$*" >&2; exit 1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.2f MiB", b / 1048576 }'; }
now_s() { date +%s; }

# Bytes of what the device tool sends besides the carried folders: tracked files and untracked
# files git does not ignore (and shared/ when the checkout has one), like the tool counts them.
tree_bytes() {
  local root="$1"
  if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$root" && git ls-files -z -co --exclude-standard | xargs -0 -r stat -c '%s' -- 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
  else
    # no git: everything but the usual ignored folders (an over-estimate)
    (cd "$root" && find . \( -path ./node_modules -o -path ./build -o -path ./build-gyp -o -path ./dist -o -path ./.cache -o -path ./.carry -o -path ./.git \) -prune -o -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
  fi
}
dir_bytes() { find "$1" -type f -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }

# xz decompression with a Python fallback (the GPU machine's image may lack xz-utils).
unxz_to() { # src dst
  if command -v xz >/dev/null 2>&1; then xz -dc "$1" >"$2"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  fi
}
untar_xz() { # archive destdir
  if command -v xz >/dev/null 2>&1; then xz -dc "$1" | tar -xf - -C "$2"
  else python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$1" "$2"
  fi
}

# --- the local half -----------------------------------------------------------------------------
prepare() { # carry_dir xz_level
  local carry="$1" level="$2"
  command -v node >/dev/null 2>&1 || die "node is not on PATH"
  command -v xz >/dev/null 2>&1 || die "xz is not installed (apt-get install xz-utils)"
  [ -d "$ROOT/node_modules/jest" ] || die "node_modules/jest is missing: run npm ci first"
  mkdir -p "$carry"
  local node_bin; node_bin="$(readlink -f "$(command -v node)")"
  local node_sum; node_sum="$(sha256sum "$node_bin" | cut -d' ' -f1) xz-$level"
  if [ -f "$carry/node.xz" ] && [ "$(cat "$carry/node.sha256" 2>/dev/null)" = "$node_sum" ]; then
    log "node.xz is up to date ($node_bin, xz -$level)"
  else
    log "compressing $node_bin ($(mib "$(stat -c %s "$node_bin")")) with xz -$level …"
    xz -T0 "-$level" -c "$node_bin" >"$carry/node.xz.tmp" && mv "$carry/node.xz.tmp" "$carry/node.xz" || die "xz of node failed"
    echo "$node_sum" >"$carry/node.sha256"
  fi
  node --version >"$carry/node-version.txt"
  # Everything the remote half runs: jest + ts-jest + typescript + @types (test:gpu),
  # cmake-js + node-api-headers + node-addon-api (the build), bindings, protobufjs.
  log "packing node_modules ($(mib "$(dir_bytes "$ROOT/node_modules")")) with xz -$level …"
  # Left out: what the GPU check never loads and the 64 MiB carry cannot hold (onnxruntime-node
  # alone is ~300 MB: the ONNX tests run in CI; sharp's libvips: image decoding is loaded lazily).
  tar -C "$ROOT" --exclude='node_modules/.cache' --exclude='node_modules/onnxruntime-node' \
    --exclude='node_modules/onnxruntime-common' --exclude='node_modules/@img' --exclude='node_modules/sharp' \
    -cf - node_modules | xz -T0 "-$level" >"$carry/node_modules.tar.xz.tmp" \
    && mv "$carry/node_modules.tar.xz.tmp" "$carry/node_modules.tar.xz" || die "packing node_modules failed"
  local commit="unknown"
  if git -C "$ROOT" rev-parse HEAD >/dev/null 2>&1; then
    commit="$(git -C "$ROOT" rev-parse HEAD)"
    local dirty; dirty="$(git -C "$ROOT" status --porcelain --untracked-files=no | wc -l)"
    [ "$dirty" -gt 0 ] && commit="$commit (+ $dirty uncommitted changes in the working tree)"
  fi
  { echo "$commit"; echo "prepared $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n)"; } >"$carry/commit.txt"
}

# Prints the size breakdown and fails when the total exceeds the device tool's 64 MiB.
check_size() { # carry_dir
  local carry="$1"
  local tree carry_b node_b mods_b total
  tree="$(tree_bytes "$ROOT")"
  carry_b="$(dir_bytes "$carry")"
  node_b="$(stat -c %s "$carry/node.xz")"
  mods_b="$(stat -c %s "$carry/node_modules.tar.xz")"
  local shared_b=0
  [ -d "$ROOT/shared" ] && shared_b="$(dir_bytes "$ROOT/shared")"
  total=$((tree + carry_b + shared_b))
  log "sizes: working tree (tracked + untracked, not ignored) $(mib "$tree"); .carry $(mib "$carry_b")" \
      "= node.xz $(mib "$node_b") + node_modules.tar.xz $(mib "$mods_b") + small files; shared/ $(mib "$shared_b")"
  log "total $(mib "$total") of the $(mib "$LIMIT_BYTES") limit ($((100 * total / LIMIT_BYTES))%)"
  [ "$total" -le "$LIMIT_BYTES" ] || die "what the device run would send is $(mib "$total") > 64 MiB"
}

run_call() {
  cat <<'EOF'
device `run` call (tool "run"; kind left out; the command is under 2000 characters):
  command:   bash scripts/gpu-check.sh --remote
  carry:     [".carry"]
  timeout_s: 600
then, here:  bash scripts/gpu-check.sh --collect <files_at of the reply>
             git add scripts/GPU-RESULTS.md && git commit -m "GPU check results" -- scripts/GPU-RESULTS.md
EOF
}

collect() { # dir
  local dir="$1" f
  [ -d "$dir" ] || die "--collect: $dir is not a folder"
  f="$(find "$dir" -name GPU-RESULTS.md -type f | head -n 1)"
  [ -n "$f" ] || die "--collect: no GPU-RESULTS.md under $dir"
  cp "$f" "$ROOT/scripts/GPU-RESULTS.md"
  log "copied $f to scripts/GPU-RESULTS.md"
  grep -E '^\| (build|tests|bench)' "$ROOT/scripts/GPU-RESULTS.md" || true
}

# --- the remote half ------------------------------------------------------------------------------
# Stages: setup (node, node_modules, toolchain discovery), configure, build, tsc, test, bench.
# GPU_CHECK_UNTIL=configure|build stops after that stage (the dry run), without a GPU.
remote() {
  local until="${GPU_CHECK_UNTIL:-all}"
  local start; start="$(now_s)"
  local deadline=$((start + ${GPU_CHECK_DEADLINE_S:-540}))
  local out="${OUT:-$ROOT/gpu-check-out}"
  mkdir -p "$out"
  cd "$ROOT" || die "no repo root"
  local work; work="$(mktemp -d /tmp/gpu-check.XXXXXX)"
  local status_build="not run" status_tests="not run" status_bench="not run" status_nccl="not run" counts="-"
  local build_s=0 test_s=0 bench_s=0 overall=0
  : >"$out/build.log"; : >"$out/test-gpu.log"; : >"$out/bench-gpu.log"; : >"$out/nccl.log"
  local env_log="$out/environment.txt"; : >"$env_log"

  # 1. node and node_modules from .carry
  [ -f .carry/node.xz ] || die "no .carry/node.xz: run scripts/gpu-check.sh --prepare here first and name .carry in carry"
  mkdir -p "$work/bin"
  if ! command -v node >/dev/null 2>&1 || [ "$(node --version 2>/dev/null)" != "$(cat .carry/node-version.txt 2>/dev/null)" ]; then
    unxz_to .carry/node.xz "$work/bin/node" && chmod +x "$work/bin/node" || die "could not unpack .carry/node.xz"
    export PATH="$work/bin:$PATH"
  fi
  node --version >/dev/null || die "the carried node does not run here"
  if [ ! -f node_modules/jest/bin/jest.js ]; then
    untar_xz .carry/node_modules.tar.xz "$ROOT" || die "could not unpack .carry/node_modules.tar.xz"
  fi

  # 2. toolchain: a CUDA toolkit with nvcc, cudart and cuBLAS; cuDNN 9 (the Python env's
  #    wheel when there is no system copy); the GPU. Wheel folders lack lib64 and unversioned
  #    .so names, which CMake's FindCUDAToolkit needs: add the links (this machine is bare and
  #    given back after the check), as scripts/install-cuda-wheels.sh does here.
  local py_sites=""
  py_sites="$(python3 -c 'import site, sys; print("\n".join(list(getattr(site, "getsitepackages", lambda: [])()) + sys.path))' 2>/dev/null || true)"
  local cands=() c s
  [ -n "${CUDA_PATH:-}" ] && cands+=("$CUDA_PATH")
  if command -v nvcc >/dev/null 2>&1; then cands+=("$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")"); fi
  cands+=(/usr/local/cuda)
  while IFS= read -r s; do [ -n "$s" ] && [ -d "$s/nvidia/cu13" ] && cands+=("$s/nvidia/cu13"); done <<<"$py_sites"
  has_lib() { compgen -G "$1/lib/$2.so*" >/dev/null || compgen -G "$1/lib64/$2.so*" >/dev/null; }
  local toolkit=""
  for c in "${cands[@]}"; do
    if [ -x "$c/bin/nvcc" ] && [ -f "$c/include/cuda_runtime.h" ] && has_lib "$c" libcudart && has_lib "$c" libcublas; then toolkit="$c"; break; fi
  done
  if [ -z "$toolkit" ]; then
    for c in "${cands[@]}"; do [ -x "$c/bin/nvcc" ] && { toolkit="$c"; break; }; done
    log "WARNING: no toolkit with nvcc, cudart and cuBLAS together among: ${cands[*]}"
  fi
  fix_layout() { # dir with lib/: lib64 -> lib, unversioned names
    local d="$1" f base
    [ -d "$d/lib" ] || return 0
    [ -e "$d/lib64" ] || ln -s lib "$d/lib64" 2>/dev/null || true
    for f in "$d"/lib/lib*.so.[0-9]*; do
      [ -e "$f" ] || continue
      base="${f##*/}"; base="${base%%.so.*}.so"
      [ -e "$d/lib/$base" ] || ln -s "${f##*/}" "$d/lib/$base" 2>/dev/null || true
    done
  }
  local nvcc=""
  if [ -n "$toolkit" ]; then
    export CUDA_PATH="$toolkit"
    nvcc="$toolkit/bin/nvcc"
    [ -f "$toolkit/lib64/libcudart.so" ] || [ -f "$toolkit/lib/libcudart.so" ] || fix_layout "$toolkit"
  fi
  if [ -z "${CUDNN_PATH:-}" ]; then
    local cudnn_dir=""
    cudnn_dir="$(python3 -c 'import nvidia.cudnn as m, os; print(os.path.dirname(m.__file__) if getattr(m, "__file__", None) else list(m.__path__)[0])' 2>/dev/null || true)"
    [ -n "$cudnn_dir" ] && export CUDNN_PATH="$cudnn_dir"
  fi
  [ -n "${CUDNN_PATH:-}" ] && [ ! -e "$CUDNN_PATH/lib/libcudnn.so" ] && fix_layout "$CUDNN_PATH"
  # NCCL (optional: CMake's NEWTON_USE_NCCL=AUTO builds without it): the Python env's
  # nvidia-nccl-cu13 wheel, when it has one (torch brings it)
  if [ -z "${NCCL_ROOT:-}" ]; then
    local nccl_dir=""
    nccl_dir="$(python3 -c 'import nvidia.nccl as m, os; print(os.path.dirname(m.__file__) if getattr(m, "__file__", None) else list(m.__path__)[0])' 2>/dev/null || true)"
    [ -n "$nccl_dir" ] && [ -f "$nccl_dir/include/nccl.h" ] && export NCCL_ROOT="$nccl_dir"
  fi
  [ -n "${NCCL_ROOT:-}" ] && [ ! -e "$NCCL_ROOT/lib/libnccl.so" ] && fix_layout "$NCCL_ROOT"
  # the tests and the benchmark load libnewton_cuda.so; its RPATH names these folders too
  local ld=""
  for c in "${CUDA_PATH:-}/lib64" "${CUDA_PATH:-}/lib" "${CUDNN_PATH:-}/lib" "${NCCL_ROOT:-}/lib"; do [ -d "$c" ] && ld="$ld:$c"; done
  export LD_LIBRARY_PATH="${ld#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  {
    echo "date:        $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit:      $(head -n 1 .carry/commit.txt 2>/dev/null || echo unknown)"
    echo "host:        $(uname -n) $(uname -m) $(uname -r)"
    echo "node:        $(node --version) ($(command -v node))"
    echo "nvcc:        ${nvcc:-not found} $( [ -n "$nvcc" ] && "$nvcc" --version | grep -o 'release [0-9.]*' )"
    echo "cmake:       $(cmake --version 2>/dev/null | head -n 1 || echo 'not found')"
    echo "ninja:       $(ninja --version 2>/dev/null || echo 'not found')"
    echo "CUDA_PATH:   ${CUDA_PATH:-unset}"
    echo "CUDNN_PATH:  ${CUDNN_PATH:-unset} $( [ -n "${CUDNN_PATH:-}" ] && grep -hE '#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) ' "$CUDNN_PATH/include/cudnn_version.h" 2>/dev/null | awk '{ printf "%s%s", (NR > 1 ? "." : "cuDNN "), $3 }')"
    echo "NCCL_ROOT:   ${NCCL_ROOT:-unset (no NCCL: the build leaves it out)} $( [ -n "${NCCL_ROOT:-}" ] && grep -hE '#define NCCL_(MAJOR|MINOR|PATCH) ' "$NCCL_ROOT/include/nccl.h" 2>/dev/null | awk '{ printf "%s%s", (NR > 1 ? "." : "NCCL "), $3 }')"
    echo "mpirun:      $(mpirun --version 2>/dev/null | head -n 1 || echo 'not found')"
    echo "cpus:        $(nproc)"
    if command -v nvidia-smi >/dev/null 2>&1; then
      echo "gpu:         $(nvidia-smi --query-gpu=name,memory.total,compute_cap --format=csv,noheader 2>&1 | head -n 1)"
      echo "driver:      $(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>&1 | head -n 1)"
      echo "driver CUDA: $(nvidia-smi 2>/dev/null | grep -o 'CUDA Version: [0-9.]*' | head -n 1)"
    else
      echo "gpu:         nvidia-smi not found"
    fi
  } >>"$env_log" 2>&1
  cat "$env_log"

  remaining() { local r=$((deadline - $(now_s))); [ $r -lt 1 ] && r=1; echo $r; }

  # 3. configure (+ build): NEWTON_CUDA=ON, so a missing piece fails here, loudly
  local t0; t0="$(now_s)"
  local archs=()
  [ -n "${GPU_CHECK_ARCHS:-}" ] && archs=("--CDNEWTON_CUDA_ARCHITECTURES=${GPU_CHECK_ARCHS}")
  if [ "$until" = configure ]; then
    log "configure only (NEWTON_CUDA=${GPU_CHECK_CUDA_MODE:-ON}) …"
    timeout "$(remaining)" node node_modules/cmake-js/bin/cmake-js configure --directory "$ROOT" \
      "--CDNEWTON_CUDA=${GPU_CHECK_CUDA_MODE:-ON}" "${archs[@]}" >"$out/build.log" 2>&1
    local rc=$?
    build_s=$(( $(now_s) - t0 ))
    grep -E 'newton-cnn:|Error|error' "$out/build.log" | head -n 20
    [ $rc -eq 0 ] && status_build="PASS (configure only, ${build_s} s)" || status_build="FAIL (configure, exit $rc)"
    log "configure: $status_build"
    rm -rf "$work"
    [ $rc -eq 0 ]; return
  fi
  log "building with NEWTON_CUDA=ON …"
  # what scripts/build-native.js --clean runs, plus the architecture override
  timeout "$(remaining)" node node_modules/cmake-js/bin/cmake-js rebuild --directory "$ROOT" --CDNEWTON_CUDA=ON \
    --parallel "$(nproc)" "${archs[@]}" >"$out/build.log" 2>&1
  local brc=$?
  build_s=$(( $(now_s) - t0 ))
  if [ $brc -eq 0 ] && [ -f build/Release/libnewton_cuda.so ]; then status_build="PASS (${build_s} s)"
  else status_build="FAIL (exit $brc, ${build_s} s)"; overall=1; fi
  log "build: $status_build"
  grep -E 'newton-cnn:' "$out/build.log" | head -n 10
  if [ "$until" = build ]; then rm -rf "$work"; return $overall; fi

  if [ $overall -eq 0 ]; then
    # 4. TypeScript for the benchmark (the tests compile through ts-jest)
    timeout "$(remaining)" node node_modules/typescript/bin/tsc -p tsconfig.json >>"$out/build.log" 2>&1 || log "tsc reported errors (see build.log); dist/ was still written"
    node -e "const n = require('./dist/lib'); for (const d of n.devices()) console.log('devices():', d.name, d.available ? 'available: ' + d.description : 'unavailable: ' + d.reason)" 2>&1 | tee -a "$env_log"

    # 5. test:gpu, with a missing GPU a failure (NEWTON_REQUIRE_CUDA=1)
    t0="$(now_s)"
    local script; script="$(node -p "require('./package.json').scripts['test:gpu']")"
    log "test:gpu: $script (NEWTON_REQUIRE_CUDA=1) …"
    local tlimit=$(( $(remaining) - 90 )); [ $tlimit -lt 30 ] && tlimit=30
    NEWTON_REQUIRE_CUDA=1 timeout "$tlimit" sh -c "$script --maxWorkers=8 --verbose --json --outputFile=\"$out/jest.json\"" >"$out/test-gpu.log" 2>&1
    local trc=$?
    test_s=$(( $(now_s) - t0 ))
    counts="$(node -e "
      const r = require(process.argv[1]);
      let cudaSkipped = 0;
      for (const f of r.testResults) for (const a of f.assertionResults) if (a.status === 'pending' && /\\[cuda\\]/.test(a.title)) cudaSkipped++;
      console.log(r.numPassedTests + ' passed, ' + r.numFailedTests + ' failed, ' + r.numPendingTests + ' skipped (' + cudaSkipped + ' CUDA cases skipped), ' + r.numTodoTests + ' todo; ' + r.numTotalTestSuites + ' suites (' + r.numFailedTestSuites + ' failed)');
      process.exit(r.success && cudaSkipped === 0 ? 0 : 3);
    " "$out/jest.json" 2>&1)"
    local crc=$?
    if [ $trc -eq 0 ] && [ $crc -eq 0 ]; then status_tests="PASS (${test_s} s)"
    elif [ $trc -eq 124 ]; then status_tests="FAIL (timed out after ${test_s} s)"; overall=1
    else status_tests="FAIL (exit $trc, ${test_s} s)"; overall=1; fi
    log "test:gpu: $status_tests; $counts"

    # 5b. NCCL: a job of one (MPI singleton) on cuda:0: ncclInit, all-reduce, broadcast and
    #     barrier of a CUDA tensor. One GPU is enough for it; two ranks need two GPUs
    #     (test/distributed.nccl.test.ts runs them where there are). SKIPPED, with the reason,
    #     where the build has no NCCL or no MPI.
    if [ "$(remaining)" -gt 60 ]; then
      OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_plm=isolated \
        OMPI_MCA_btl_vader_single_copy_mechanism=none timeout 60 node -e "
        const lib = require('./dist/lib');
        const info = lib.distributedInfo();
        console.log('ncclInfo: ' + JSON.stringify(info.nccl) + '; mpiInfo: ' + JSON.stringify(info.mpi));
        if (info.mpi.library === null || info.nccl.library === null) {
          console.log('SKIPPED: ' + (info.mpi.library === null ? info.mpi.reason : info.nccl.reason));
          process.exit(0);
        }
        const d = lib.initDistributed('nccl', { timeoutSeconds: 30 });
        const x = lib.Tensor.from(new Float32Array([1, 2, 3]), { device: d.device });
        d.allReduceSum(x);
        d.broadcast(x, 0);
        d.barrier();
        const got = Array.from(x.toArray()).join(',');
        if (got !== '1,2,3') { console.log('FAIL: ' + got); process.exit(1); }
        console.log('PASS: ' + d.library + ' on ' + d.device + ', a job of ' + d.size);
      " >"$out/nccl.log" 2>&1
      local nrc=$?
      local nline; nline="$(grep -E '^(PASS|FAIL|SKIPPED)' "$out/nccl.log" | tail -n 1)"
      if [ $nrc -eq 0 ] && [ -n "$nline" ]; then status_nccl="$nline"
      else status_nccl="FAIL (exit $nrc; see nccl.log)"; overall=1; fi
      log "nccl: $status_nccl"
    fi

    # 6. bench gpu (exact float32), then the SGEMM with TF32
    t0="$(now_s)"
    local left; left="$(( $(remaining) - 5 ))"
    if [ "$left" -gt 30 ]; then
      timeout "$left" node dist/scripts/bench.js gpu --json "$out/bench-gpu.json" >"$out/bench-gpu.log" 2>&1
      local b1=$?
      left="$(( $(remaining) - 5 ))"
      if [ "$left" -gt 10 ]; then
        { echo; echo "=== NEWTON_CUDA_TF32=1: SGEMM only ==="; } >>"$out/bench-gpu.log"
        NEWTON_CUDA_TF32=1 timeout "$left" node dist/scripts/bench.js gpu --only sgemm >>"$out/bench-gpu.log" 2>&1
      fi
      # ResNet-20 on the GPU: SGD step at batch 128, batch-norm Gv and Hv / forward+backward at
      # |S| = 512 (the suite's default sizes, 3 repeats: a few seconds on a GPU; capped at 90 s)
      left="$(( $(remaining) - 5 ))"
      if [ "$left" -gt 10 ]; then
        [ "$left" -gt 90 ] && left=90
        { echo; echo "=== ResNet-20 (bench resnet --device cuda --repeats 3) ==="; } >>"$out/bench-gpu.log"
        timeout "$left" node dist/scripts/bench.js resnet --device cuda --repeats 3 --json "$out/bench-resnet.json" >>"$out/bench-gpu.log" 2>&1 \
          || echo "bench resnet: exit $? (a timeout is 124)" >>"$out/bench-gpu.log"
      fi
      # the fused block kernels against their unfused compositions, and their share of the copy bandwidth
      left="$(( $(remaining) - 5 ))"
      if [ "$left" -gt 10 ]; then
        [ "$left" -gt 60 ] && left=60
        { echo; echo "=== fused kernels (bench fused --device cuda) ==="; } >>"$out/bench-gpu.log"
        timeout "$left" node dist/scripts/bench.js fused --device cuda >>"$out/bench-gpu.log" 2>&1 \
          || echo "bench fused: exit $? (a timeout is 124)" >>"$out/bench-gpu.log"
      fi
      # the profiler on the GPU (CUDA events, NVTX ranges) through the C++ driver, no Node in the way
      left="$(( $(remaining) - 5 ))"
      if [ "$left" -gt 10 ] && [ -x build/Release/newton-cnn-bench ]; then
        [ "$left" -gt 40 ] && left=40
        { echo; echo "=== C++ driver, profiled (newton-cnn-bench --device cuda --steps 5 --profile) ==="; } >>"$out/bench-gpu.log"
        timeout "$left" build/Release/newton-cnn-bench --device cuda --steps 5 --profile --trace "$out/trace-cuda.json" >>"$out/bench-gpu.log" 2>&1 \
          || echo "newton-cnn-bench: exit $? (a timeout is 124)" >>"$out/bench-gpu.log"
      fi
      # a bench line for every declared op on the GPU (test/cases)
      left="$(( $(remaining) - 5 ))"
      if [ "$left" -gt 10 ]; then
        { echo; echo "=== per-op lines (bench ops --device cuda --quick) ==="; } >>"$out/bench-gpu.log"
        timeout "$left" node dist/scripts/bench.js ops --device cuda --quick >>"$out/bench-gpu.log" 2>&1
      fi
      bench_s=$(( $(now_s) - t0 ))
      if [ $b1 -ne 0 ]; then status_bench="FAIL (exit $b1, ${bench_s} s)"; overall=1
      elif grep -q '^bench gpu: skipped' "$out/bench-gpu.log"; then status_bench="SKIPPED (no CUDA device; see below)"; overall=1
      else status_bench="PASS (${bench_s} s)"; fi
    else
      status_bench="not run (no time left)"; overall=1
    fi
    log "bench gpu: $status_bench"
  fi

  # 7. GPU-RESULTS.md
  local total_s=$(( $(now_s) - start ))
  {
    echo "# GPU check results"
    echo
    echo "Written by \`scripts/gpu-check.sh --remote\` on the lent GPU machine; copied here by \`--collect\`."
    echo
    echo '```'
    cat "$env_log"
    echo '```'
    echo
    echo "| stage | result |"
    echo "|---|---|"
    echo "| build (NEWTON_CUDA=ON) | $status_build |"
    echo "| tests (\`test:gpu\`, NEWTON_REQUIRE_CUDA=1) | $status_tests |"
    echo "| test counts | $counts |"
    echo "| nccl (a job of one) | $status_nccl |"
    echo "| bench (\`bench gpu\`) | $status_bench |"
    echo "| total | ${total_s} s |"
    echo
    echo "## bench gpu (raw output)"
    echo
    echo '```'
    cat "$out/bench-gpu.log"
    echo '```'
    echo
    echo "## nccl (raw output)"
    echo
    echo '```'
    cat "$out/nccl.log"
    echo '```'
    echo
    echo "## test:gpu (raw output; failures and summary)"
    echo
    echo '```'
    # jest's default reporter prints failures and the summary; cap very long failure logs
    head -c 200000 "$out/test-gpu.log"
    echo '```'
    echo
    echo "## build (last 60 lines)"
    echo
    echo '```'
    tail -n 60 "$out/build.log"
    echo '```'
  } >"$out/GPU-RESULTS.md"
  log "wrote $out/GPU-RESULTS.md (${total_s} s in all)"
  rm -rf "$work"
  return $overall
}

# --- the dry run ----------------------------------------------------------------------------------
dry_run() {
  local build_too="$1"
  local start; start="$(now_s)"
  local tmp; tmp="$(mktemp -d /tmp/gpu-check-dry.XXXXXX)"
  # shellcheck disable=SC2064 # expand now: $tmp is local
  trap "rm -rf '$tmp'" EXIT
  log "dry run in $tmp"

  # a. syntax of this script (the remote half included)
  bash -n "$SCRIPT_PATH" || die "bash -n $SCRIPT_PATH failed"
  log "bash -n: ok"

  # b. the local half, into a temp carry folder; the 64 MiB check
  local level="${GPU_CHECK_DRY_XZ_LEVEL:-0}"
  prepare "$tmp/carry" "$level"
  check_size "$tmp/carry"
  [ "$level" -lt 9 ] && log "(sizes at xz -$level, an upper bound of --prepare's xz -${GPU_CHECK_XZ_LEVEL:-9})"

  # c. a copy of what the device run receives: the working tree (tracked + untracked, not
  #    ignored) and .carry; then the remote half up to the GPU step
  local tree="$tmp/tree"
  mkdir -p "$tree"
  if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$ROOT" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$tree" || die "copying the working tree failed"
  else
    (cd "$ROOT" && tar --exclude=./node_modules --exclude=./build --exclude=./dist --exclude=./.cache --exclude=./.carry -cf - .) | tar -xf - -C "$tree"
  fi
  cp -r "$tmp/carry" "$tree/.carry"

  # node.xz decompresses and runs
  unxz_to "$tree/.carry/node.xz" "$tmp/node" && chmod +x "$tmp/node" || die "node.xz does not decompress"
  local v; v="$("$tmp/node" --version)" || die "the unpacked node does not run"
  [ "$v" = "$(cat "$tree/.carry/node-version.txt")" ] || die "unpacked node is $v, expected $(cat "$tree/.carry/node-version.txt")"
  log "node.xz: unpacks and runs ($v)"

  # the remote half with a PATH without node, so that it uses the carried one
  local nodeless="$tmp/nodeless-bin"
  mkdir -p "$nodeless"
  local tool
  for tool in bash sh env xz tar python3 cmake ninja make c++ g++ gcc cc nvcc git awk sed grep find stat sha256sum readlink dirname basename mktemp cat head tail tee date uname nproc timeout rm cp mv mkdir chmod ls ln wc cut sort tr ld ar ranlib as; do
    command -v "$tool" >/dev/null 2>&1 && ln -sf "$(command -v "$tool")" "$nodeless/$tool"
  done
  # CMake looks for the wheels in <source>/.cache/cuda; the copy has none: point at this checkout's
  local cuda_env=()
  local mode=ON
  if [ -x "$ROOT/.cache/cuda/site/nvidia/cu13/bin/nvcc" ]; then
    cuda_env=("CUDA_PATH=$ROOT/.cache/cuda/site/nvidia/cu13" "CUDNN_PATH=$ROOT/.cache/cuda/site/nvidia/cudnn")
    [ -f "$ROOT/.cache/cuda/site/nvidia/nccl/include/nccl.h" ] && cuda_env+=("NCCL_ROOT=$ROOT/.cache/cuda/site/nvidia/nccl")
  elif [ -z "$(command -v nvcc || true)" ] && [ ! -x /usr/local/cuda/bin/nvcc ]; then
    log "WARNING: no CUDA toolkit here (no .cache/cuda: run scripts/install-cuda-wheels.sh): configure with NEWTON_CUDA=AUTO"
    mode=AUTO
  fi
  local until=configure
  [ "$build_too" = 1 ] && until=build
  (cd "$tree" && env PATH="$nodeless" HOME="${HOME:-/tmp}" OUT="$tmp/out" GPU_CHECK_UNTIL="$until" GPU_CHECK_CUDA_MODE="$mode" \
      "${cuda_env[@]}" bash scripts/gpu-check.sh --remote) || die "the remote half failed before the GPU step (see above; log: $tmp/out/build.log)"
  # the carried modules resolve what the remote half runs
  (cd "$tree" && "$tmp/node" node_modules/jest/bin/jest.js --version >/dev/null && "$tmp/node" node_modules/typescript/bin/tsc --version >/dev/null \
      && "$tmp/node" -e "for (const m of ['ts-jest', 'cmake-js/package.json', 'node-addon-api', 'node-api-headers', 'bindings']) require.resolve(m)") \
      || die "the carried node_modules do not resolve jest / tsc / ts-jest / cmake-js / node-addon-api"
  log "carried node_modules: jest $(cd "$tree" && "$tmp/node" node_modules/jest/bin/jest.js --version), $(cd "$tree" && "$tmp/node" node_modules/typescript/bin/tsc --version) resolve"
  if [ "$mode" = ON ]; then
    grep -q 'newton-cnn: CUDA backend: nvcc' "$tmp/out/build.log" || die "configure did not find the CUDA backend's toolchain (see $tmp/out/build.log)"
    log "CUDA configure: $(grep -o 'newton-cnn: CUDA backend: nvcc [0-9.]*' "$tmp/out/build.log" | head -n 1)"
    log "NCCL configure: $(grep -oE 'newton-cnn: (NCCL [0-9.]+|no NCCL|NCCL left out)' "$tmp/out/build.log" | head -n 1)"
  fi
  # test:gpu exists and is a jest run of the op tables and the parity suite
  local script; script="$("$tmp/node" -p "require('$tree/package.json').scripts['test:gpu'] || ''")"
  case "$script" in *jest*parity*) ;; *) die "package.json has no test:gpu running jest on the parity suite (got: '$script')";; esac
  run_call | sed 's/^/  /'
  log "PASS: dry run in $(( $(now_s) - start )) s"
}

# --- main -----------------------------------------------------------------------------------------
case "${1:-}" in
  --prepare)
    prepare "$ROOT/.carry" "${GPU_CHECK_XZ_LEVEL:-9}"
    check_size "$ROOT/.carry"
    run_call
    ;;
  --remote) remote ;;
  --collect) [ $# -ge 2 ] || die "usage: $0 --collect DIR"; collect "$2" ;;
  --dry-run)
    b=0
    [ "${2:-}" = --build ] && b=1
    dry_run "$b"
    ;;
  -h|--help|"")
    sed -n '2,30p' "$SCRIPT_PATH" | sed 's/^# \{0,1\}//'
    [ -n "${1:-}" ]
    ;;
  *) die "unknown mode '$1' (--prepare, --remote, --collect DIR, --dry-run [--build])" ;;
esac
