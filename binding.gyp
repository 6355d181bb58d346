# node-gyp build of the newton-cnn addon: the SAME CPU backend as CMakeLists.txt
# (native/core/*.cpp, native/core/cpu/*.cpp, native/napi/*.cpp), without the CUDA backend.
#
# Use `npm run build:gyp` (scripts/build-gyp.js): it builds in build-gyp/ so that node-gyp's
# `rebuild` does not wipe the cmake-js addon in build/Release, and leaves the result at
# build-gyp/newton_cnn.node. Load that one with NEWTON_CNN_ADDON=<absolute path>.
#
# Variables (node-gyp configure -- -D<name>=<value>):
#   use_blas   'true' links OpenBLAS (-lopenblas) and defines NEWTON_HAVE_CBLAS /
#              NEWTON_HAVE_OPENBLAS; 'false' uses the built-in GEMM. Default: 'true' when
#              cblas.h is found in /usr/include/x86_64-linux-gnu, /usr/include/aarch64-linux-gnu,
#              /usr/include or /usr/include/openblas (libopenblas-dev).
#   use_lapack 'true' (with use_blas) defines NEWTON_HAVE_LAPACK: symmetricEigen calls the
#              LAPACK inside OpenBLAS (dsyevd_), linked by the same -lopenblas; 'false' leaves
#              it out (lapackAvailable() is false). Default: 'true' when a libopenblas.so in
#              /usr/lib/x86_64-linux-gnu, /usr/lib/aarch64-linux-gnu, /usr/lib64, /usr/lib or
#              /usr/local/lib names dsyevd_ (Debian's libopenblas-dev does; an OpenBLAS built
#              with NO_LAPACK does not).
#   use_turbojpeg  'true' decodes JPEG images with libjpeg-turbo's TurboJPEG (-lturbojpeg) and
#              defines NEWTON_HAVE_TURBOJPEG; 'false' leaves JPEG decoding out (decoding one then
#              throws an Error naming the package). Default: 'true' when turbojpeg.h is in
#              /usr/include or /usr/local/include (libturbojpeg0-dev).
#   use_png    'true' decodes PNG images with libpng (-lpng, which brings zlib) and defines
#              NEWTON_HAVE_PNG. Default: 'true' when png.h is in /usr/include or
#              /usr/local/include (libpng-dev).
#   use_mpi    'true' links MPI for the collectives between processes (native/core/comm.h) with
#              the flags of the MPI compiler wrapper (`mpicc --showme:compile` and
#              `--showme:link`: Open MPI's) and defines NEWTON_HAVE_MPI; 'false' leaves it out
#              (mpiInfo() then says why). Default: 'true' when `mpicc --showme:compile` runs, i.e.
#              an Open MPI mpicc is on PATH (libopenmpi-dev).
#   onednn_root  a prefix with oneDNN 3 headers (include/oneapi/dnnl): defines NEWTON_HAVE_ONEDNN
#              and the library to open first at run time, <onednn_root>/lib/libdnnl.so.3 (note
#              [oneDNN at run time] in native/core/cpu/onednn_library.cpp; nothing is linked).
#              '' leaves oneDNN out. Default ''; scripts/build-gyp.js passes the prefix it finds.
{
  'variables': {
    'use_blas%': '<!(node -p "[\'/usr/include/x86_64-linux-gnu/cblas.h\',\'/usr/include/aarch64-linux-gnu/cblas.h\',\'/usr/include/cblas.h\',\'/usr/include/openblas/cblas.h\'].some(f => require(\'fs\').existsSync(f))")',
    'use_turbojpeg%': '<!(node -p "[\'/usr/include/turbojpeg.h\',\'/usr/local/include/turbojpeg.h\'].some(f => require(\'fs\').existsSync(f))")',
    'use_png%': '<!(node -p "[\'/usr/include/png.h\',\'/usr/local/include/png.h\'].some(f => require(\'fs\').existsSync(f))")',
    'use_mpi%': '<!(node -p "require(\'child_process\').spawnSync(\'mpicc\', [\'--showme:compile\']).status === 0")',
    'onednn_root%': '',
    'use_lapack%': '<!(node -p "[\'/usr/lib/x86_64-linux-gnu\',\'/usr/lib/aarch64-linux-gnu\',\'/usr/lib64\',\'/usr/lib\',\'/usr/local/lib\'].some(d => { try { return require(\'fs\').readFileSync(d + \'/libopenblas.so\').includes(\'dsyevd_\'); } catch (e) { return false; } })")',
  },
  'targets': [
    {
      'target_name': 'newton_cnn',
      'sources': [
        '<!@(node -p "[\'native/core\',\'native/core/cpu\',\'native/napi\'].flatMap(d => require(\'fs\').existsSync(d) ? require(\'fs\').readdirSync(d).filter(f => f.endsWith(\'.cpp\')).sort().map(f => d + \'/\' + f) : []).join(\' \')")',
      ],
      'include_dirs': [
        'native',
        '<!(node -p "require(\'node-addon-api\').include_dir")',
      ],
      'defines': [
        'NAPI_VERSION=8',
        'NAPI_CPP_EXCEPTIONS',
        # As in CMakeLists.txt: an error that cannot be thrown while a worker's environment is
        # torn down is dropped, not turned into a C++ exception that aborts the process.
        'NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS',
        'NODE_ADDON_API_DISABLE_DEPRECATED',
      ],
      'cflags!': ['-fno-exceptions'],
      'cflags_cc!': ['-fno-exceptions', '-fno-rtti', '-std=gnu++17', '-std=gnu++20'],
      'cflags_cc': ['-std=c++17', '-fexceptions', '-O3', '-fno-math-errno', '-ffp-contract=off'],
      'xcode_settings': {
        'GCC_ENABLE_CPP_EXCEPTIONS': 'YES',
        'CLANG_CXX_LANGUAGE_STANDARD': 'c++17',
        'CLANG_CXX_LIBRARY': 'libc++',
        'MACOSX_DEPLOYMENT_TARGET': '10.15',
        'OTHER_CPLUSPLUSFLAGS': ['-O3', '-fno-math-errno', '-ffp-contract=off'],
      },
      'msvs_settings': {
        'VCCLCompilerTool': {
          'ExceptionHandling': 1,
          'AdditionalOptions': ['/std:c++17'],
        },
      },
      'conditions': [
        ['OS=="linux"', {
          'libraries': ['-lpthread', '-ldl'],
        }],
        ['use_blas=="true"', {
          'defines': [
            'NEWTON_HAVE_CBLAS=1',
            'NEWTON_HAVE_OPENBLAS=1',
            'NEWTON_BLAS_NAME="OpenBLAS"',
          ],
          'include_dirs': ['/usr/include/openblas'],
          'libraries': ['-lopenblas'],
        }, {
          'defines': ['NEWTON_BLAS_NAME="built-in"'],
        }],
        ['use_blas=="true" and use_lapack=="true"', {
          'defines': ['NEWTON_HAVE_LAPACK=1'],
        }],
        ['use_turbojpeg=="true"', {
          'defines': ['NEWTON_HAVE_TURBOJPEG=1'],
          'libraries': ['-lturbojpeg'],
        }],
        ['use_png=="true"', {
          'defines': ['NEWTON_HAVE_PNG=1'],
          'libraries': ['-lpng'],
        }],
        ['onednn_root!=""', {
          'defines': ['NEWTON_HAVE_ONEDNN=1', 'NEWTON_ONEDNN_BUILD_LIBRARY="<(onednn_root)/lib/libdnnl.so.3"'],
          'include_dirs': ['<(onednn_root)/include'],
        }, {
          'defines': ['NEWTON_ONEDNN_MISSING="node-gyp build without oneDNN headers: run scripts/install-onednn.sh and rebuild"'],
        }],
        ['use_mpi=="true"', {
          'defines': ['NEWTON_HAVE_MPI=1'],
          'cflags_cc': ['<!@(mpicc --showme:compile)'],
          'libraries': ['<!@(mpicc --showme:link)'],
        }],
      ],
    },
  ],
}
