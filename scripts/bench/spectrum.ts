// `npm run bench -- spectrum`: the curvature-analysis tools (lib/analysis) on ResNet-20 with batch
// norm in training mode, on 512 synthetic CIFAR-shaped images (the timing does not depend on the
// values): Hessian and Gauss-Newton products per second through the curvature operator (one
// forward pass kept for all products, as the data fit one batch), the same over one
// forward+backward, and the time and products of the top-5 eigenvalues of the Hessian by Lanczos.
import { Tensor, info, getNumThreads, randomUniform } from '../../lib';
import { curvatureOperator, lanczos, type CurvatureKind } from '../../lib/analysis';
import { cifarResNet, crossEntropyLoss } from '../../lib/nn';
import { BenchSuite, Column, fmt, formatTable, loadAverage, machineInfo, measure, parseOptions, positiveInt, resolveDevice, writeJson } from './common';

const CLASSES = 10;
const INPUT: [number, number, number] = [3, 32, 32];

function labels(n: number, device: string): Tensor {
  const oneHot = new Float32Array(n * CLASSES);
  for (let i = 0; i < n; i++) oneHot[i * CLASSES + ((i * 7) % CLASSES)] = 1;
  return Tensor.from(oneHot, { shape: [n, CLASSES], device });
}

interface ProductRow {
  matrix: CurvatureKind;
  msMedian: number;
  productsPerSecond: number;
  ratio: number;
}

interface LanczosRow {
  k: number;
  values: number[];
  residuals: number[];
  iterations: number;
  products: number;
  seconds: number;
  converged: boolean;
}

async function run(argv: readonly string[]): Promise<number> {
  const opts = parseOptions(argv, { flags: ['--quick'], values: ['--json', '--samples', '--repeats', '--top', '--device'] });
  const quick = opts.get('--quick') === true;
  const samples = positiveInt(opts, '--samples', quick ? 32 : 512);
  const repeats = positiveInt(opts, '--repeats', quick ? 2 : 5);
  const k = positiveInt(opts, '--top', quick ? 2 : 5);
  const dev = resolveDevice(String(opts.get('--device') ?? 'cpu'));
  if ('skip' in dev) {
    console.log(`bench spectrum: skipped: ${dev.skip}`);
    return 0;
  }
  const runtime = info();
  console.log(`newton-cnn ${runtime.version}: curvature analysis of ResNet-20 (batch norm in training mode) on ${samples} synthetic 32x32x3 images, ${dev.name}: ${dev.description}`);
  console.log(`GEMM: ${runtime.gemm} (${runtime.blas}), ${getNumThreads()} threads, load average ${fmt(loadAverage(), 2)}\n`);
  const device = dev.name;
  const probe = device === 'cpu' ? null : Tensor.zeros([1], { device });
  const sync = probe === null ? () => undefined : () => void probe.item();
  const net = cifarResNet(20, INPUT, CLASSES, { seed: 0, device });
  const x = randomUniform([samples, ...INPUT], { seed: 3, low: -0.5, high: 0.5, device });
  const y = labels(samples, device);
  const v = randomUniform([net.numParameters], { seed: 4, low: -1, high: 1, device });
  const rows: ProductRow[] = [];
  let top: LanczosRow;
  try {
    const fb = measure(() => {
      const z = net.forward(x, { batchStatistics: true });
      const dz = crossEntropyLoss.gradient(z, y);
      net.backward(dz);
      dz.dispose();
      z.dispose();
      sync();
    }, { repeats, warmup: 1, minSampleMs: 0 });
    net.releaseCache();
    for (const matrix of ['hessian', 'gauss-newton'] as const) {
      const op = curvatureOperator(net, { matrix, loss: crossEntropyLoss, data: { x, y } });
      try {
        const t = measure(() => {
          op.apply(v).dispose();
          sync();
        }, { repeats, warmup: 1, minSampleMs: 0 });
        rows.push({ matrix, msMedian: t.medianMs, productsPerSecond: 1000 / t.medianMs, ratio: t.medianMs / fb.medianMs });
      } finally {
        op.dispose();
      }
    }
    const op = curvatureOperator(net, { matrix: 'hessian', loss: crossEntropyLoss, data: { x, y } });
    try {
      const r = lanczos(op, { k, maxIterations: quick ? 12 : 100, seed: 1 });
      top = { k, values: r.values, residuals: r.residuals, iterations: r.iterations, products: r.products, seconds: r.seconds, converged: r.converged };
    } finally {
      op.dispose();
    }
    console.log(`forward+backward on the ${samples} images (batch statistics): ${fmt(fb.medianMs)} ms (median of ${repeats})`);
    const columns: Column[] = [
      { title: 'matrix', align: 'left' },
      { title: 'ms / product', align: 'right' },
      { title: 'products/s', align: 'right' },
      { title: '/ (fwd+bwd)', align: 'right' },
    ];
    console.log(formatTable(columns, rows.map((r) => [r.matrix, fmt(r.msMedian), fmt(r.productsPerSecond, 2), fmt(r.ratio, 2)])));
    console.log(
      `\ntop ${k} eigenvalues of the Hessian (Lanczos, full reorthogonalisation): ${top.values.map((l) => l.toPrecision(5)).join(', ')}\n` +
        `  ${top.products} products in ${fmt(top.seconds, 1)} s (${fmt(top.products / top.seconds, 2)} products/s), ` +
        `${top.converged ? 'converged' : 'not converged'}; largest residual ${Math.max(...top.residuals).toPrecision(2)}`,
    );
  } finally {
    net.releaseCache();
    for (const t of [x, y, v]) t.dispose();
    probe?.dispose();
    net.dispose();
  }
  const json = opts.get('--json');
  if (typeof json === 'string') {
    writeJson(json, { suite: 'spectrum', date: new Date().toISOString(), machine: { ...machineInfo(), loadAverage1m: loadAverage() }, runtime, device: dev, options: { quick, samples, repeats, k }, products: rows, lanczos: top });
  }
  return 0;
}

export const suite: BenchSuite = {
  name: 'spectrum',
  description: 'Curvature analysis of ResNet-20 (batch norm in training mode, 512 images): Hessian and Gauss-Newton products/s, top-5 Hessian eigenvalues by Lanczos',
  usage: [
    '  --quick          |S| 32, top 2, 2 repeats (a smoke test)',
    '  --samples N      images (default 512)',
    '  --top K          eigenvalues (default 5)',
    '  --repeats N      timed repetitions (default 5)',
    '  --device D       cpu (default), cuda or cuda:N (skipped, exit 0, without a CUDA device)',
    '  --json FILE      also write the results as JSON',
  ].join('\n'),
  run,
};
