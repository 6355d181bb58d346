// Benchmark dispatcher: `npm run bench -- <suite> [options]` (node dist/scripts/bench.js).
//
// Each suite is its own module under scripts/bench/ exporting `suite: BenchSuite` (see
// scripts/bench/common.ts). To add one (train, newton, gpu …), write scripts/bench/<name>.ts
// and add a line to SUITES below; modules are loaded only when their suite is run.
import { UsageError, type BenchSuite } from './bench/common';

interface SuiteEntry {
  description: string;
  load: () => Promise<BenchSuite>;
}

const SUITES: Record<string, SuiteEntry> = {
  ops: {
    description: "SGEMM and conv2d throughput at the shapes of the paper's 3-layer CNN, and a line for every op (--device cuda for the GPU)",
    load: async () => (await import('./bench/ops')).suite,
  },
  train: {
    description: 'SGD training-step throughput of cnn3 at batch 128 (28×28×1, 32×32×3) vs the SGEMM rate',
    load: async () => (await import('./bench/train')).suite,
  },
  newton: {
    description: 'Subsampled Newton for cnn3 on 28×28×1: Gv / forward+backward at |S| = 3000 (rop, stored); one iteration’s time split at l = 60,000',
    load: async () => (await import('./bench/newton')).suite,
  },
  resnet: {
    description: 'ResNet-20 on 32×32×3: SGD step images/s at batch 128; batch norm in training mode: Gv and Hv / forward+backward at |S| = 512 (--device cuda for the GPU)',
    load: async () => (await import('./bench/resnet')).suite,
  },
  spectrum: {
    description: 'Curvature analysis of ResNet-20 (batch norm in training mode, 512 images): Hessian and Gauss-Newton products/s, top-5 Hessian eigenvalues by Lanczos',
    load: async () => (await import('./bench/spectrum')).suite,
  },
  fused: {
    description: 'Fused Newton-ResNet residual and Newton-CGNet CG-block passes (forward, backward, jvp, vjpJvp) vs the same outputs from existing ops, and their GB/s vs a copy (--device cuda for the GPU)',
    load: async () => (await import('./bench/fused')).suite,
  },
  profile: {
    description: 'Profiler overhead on the cnn3 SGD step (profiling off vs on, target ≤ 3%) and its per-op table',
    load: async () => (await import('./bench/profile')).suite,
  },
  data: {
    description: 'Data loader: CIFAR crop-flip batches images/s on 2 threads (target ≥ 50,000), the time a trainSgd step waits for data (≈ 0), JPEG decoding (libjpeg-turbo vs sharp) and the image-folder pipeline per core (target ≥ 300)',
    load: async () => (await import('./bench/data')).suite,
  },
  distributed: {
    description: 'Data-parallel SGD over MPI: all-reduce GB/s over 2 ranks, cnn3 SGD images/s with 1 and 2 ranks, scaling efficiency (needs MPI and mpirun)',
    load: async () => (await import('./bench/distributed')).suite,
  },
  'vs-torch': {
    description: 'cnn3 beside PyTorch (same shapes, threads, float32, squared loss; alternating runs): SGD step, inference, Gv, one Newton iteration; images/s ratios vs the issue-13 targets',
    load: async () => (await import('./bench/vs-torch')).suite,
  },
  gpu: {
    description: 'CUDA: SGEMM and cnn3 conv pass TFLOP/s, cnn3 SGD step images/s at batch 128 and 1024 (needs a GPU)',
    load: async () => (await import('./bench/gpu')).suite,
  },
};

function usage(): string {
  const names = Object.keys(SUITES);
  const width = Math.max(...names.map((n) => n.length));
  return [
    'usage: npm run bench -- <suite> [options]      (node dist/scripts/bench.js <suite> [options])',
    '       npm run bench -- <suite> --help         options of a suite',
    '',
    'suites:',
    ...names.map((n) => `  ${n.padEnd(width)}  ${SUITES[n].description}`),
  ].join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 1 : 0;
  }
  const entry = Object.prototype.hasOwnProperty.call(SUITES, name) ? SUITES[name] : undefined;
  if (!entry) {
    console.error(`bench: unknown suite '${name}'\n\n${usage()}`);
    return 1;
  }
  const suite = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`npm run bench -- ${suite.name} [options]\n${suite.description}\n\noptions:\n${suite.usage}`);
    return 0;
  }
  try {
    return await suite.run(rest);
  } catch (e) {
    // Bad options of any suite: one message naming the suite, its options, exit code 2.
    if (e instanceof UsageError) {
      console.error(`bench ${suite.name}: ${e.message}\noptions:\n${suite.usage}`);
      return 2;
    }
    throw e;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error && err.stack ? err.stack : err);
    process.exitCode = 1;
  },
);
