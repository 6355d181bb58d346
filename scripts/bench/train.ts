// `npm run bench -- train`: SGD training-step throughput of cnn3 (the paper's 3-layer CNN) at
// batch 128 on 28×28×1 and 32×32×3 inputs, and the step's achieved FLOP/s as a fraction of the
// 1024³ SGEMM rate measured in the same run.
//
// A step is what trainSgd does per batch: forward (training mode), squared-loss gradient,
// backward into the flat gradient, and the SGD update of θ. Its FLOPs count the GEMM-shaped
// work only (element-wise ops, pooling and the update are not counted, so the fraction is a
// lower bound on how busy the cores are):
//   conv layer: forward + backward-filter, plus backward-data for every conv but the first
//               (the input's gradient is not needed), each 2·N·K·C·R·S·P·Q;
//   linear:     forward, weight gradient and input gradient, each 2·N·F·classes.
// Each input runs under every convolution implementation present (oneDNN when it loaded, and the
// built-in im2col + GEMM; `--conv` picks one), alternately, so both see the same load.
import { Tensor, gemm, getConvImplementation, getNumThreads, info, randomUniform, setConvImplementation, type ConvImplementation } from '../../lib';
import { cnn3 as cnn3Model, squaredLoss } from '../../lib/nn';
import { Sgd } from '../../lib/optim';
import {
  BenchSuite,
  Column,
  type Timing,
  fmt,
  formatTable,
  loadAverage,
  machineInfo,
  measure,
  parseOptions,
  positiveInt,
  writeJson,
} from './common';
import { cnn3 as cnn3Shapes, convImplementations } from './ops';

export const TARGET_FRACTION = 0.5;
const CLASSES = 10;

interface StepRow {
  input: string;
  conv: ConvImplementation;
  batch: number;
  msMedian: number;
  msMin: number;
  imagesPerSecond: number;
  gflopPerStep: number;
  gflops: number;
  fractionOfSgemm: number;
}

// GEMM-shaped FLOPs of one training step of cnn3 on an h×w×c input at batch n.
export function cnn3StepFlops(n: number, h: number, w: number, c: number): number {
  const shapes = cnn3Shapes(n, h, w, c);
  let flops = 0;
  shapes.layers.forEach((layer, index) => {
    const [, cin, hh, ww] = layer.x;
    const [k, , r, s] = layer.w;
    const pass = 2 * n * k * cin * r * s * hh * ww; // padding (r−1)/2 keeps H×W
    flops += pass * (index === 0 ? 2 : 3);
  });
  return flops + 3 * 2 * n * shapes.flattened * CLASSES;
}

/** The 1024³ SGEMM rate in GFLOP/s (median of `repeats` samples). */
export function sgemmGflops(repeats: number): number {
  const a = randomUniform([1024, 1024], { seed: 1, low: -1, high: 1 });
  const b = randomUniform([1024, 1024], { seed: 2, low: -1, high: 1 });
  const timing = measure(() => gemm(a, b).dispose(), { repeats, warmup: 2, minSampleMs: 50 });
  a.dispose();
  b.dispose();
  return (2 * 1024 ** 3) / (timing.medianMs * 1e6);
}

/** One SGD training step of cnn3 on synthetic data, as trainSgd does it per batch. */
export interface SgdStepWorkload {
  parameters: number;
  step(): void;
  dispose(): void;
}

export function sgdStepWorkload(input: [number, number, number], batch: number): SgdStepWorkload {
  const [c, h, w] = input;
  const model = cnn3Model(input, CLASSES, { seed: 0 });
  const sgd = new Sgd(model, {}, 60000);
  const x = randomUniform([batch, c, h, w], { seed: 3, low: -0.5, high: 0.5 });
  const oneHot = new Float32Array(batch * CLASSES);
  for (let i = 0; i < batch; i++) oneHot[i * CLASSES + (i % CLASSES)] = 1;
  const y = Tensor.from(oneHot, { shape: [batch, CLASSES] });
  return {
    parameters: model.numParameters,
    step: (): void => {
      const z = model.forward(x, { training: true });
      squaredLoss.value(z, y);
      const dz = squaredLoss.gradient(z, y);
      model.backward(dz);
      sgd.step(batch);
      dz.dispose();
      z.dispose();
    },
    dispose: (): void => {
      model.releaseCache();
      for (const t of [x, y]) t.dispose();
      sgd.dispose();
      model.dispose();
    },
  };
}

function stepRow(input: [number, number, number], conv: ConvImplementation, batch: number, repeats: number, sgemm: number): StepRow {
  const [c, h, w] = input;
  const initialConv = getConvImplementation();
  setConvImplementation(conv);
  const work = sgdStepWorkload(input, batch);
  let timing: Timing;
  try {
    timing = measure(work.step, { repeats, warmup: 2, minSampleMs: 0 });
  } finally {
    work.dispose();
    setConvImplementation(initialConv);
  }
  const flops = cnn3StepFlops(batch, h, w, c);
  const gflops = flops / (timing.medianMs * 1e6);
  return {
    input: `${h}x${w}x${c}`,
    conv,
    batch,
    msMedian: timing.medianMs,
    msMin: timing.minMs,
    imagesPerSecond: batch / (timing.medianMs / 1000),
    gflopPerStep: flops / 1e9,
    gflops,
    fractionOfSgemm: gflops / sgemm,
  };
}

async function run(argv: readonly string[]): Promise<number> {
  const opts = parseOptions(argv, { flags: ['--quick'], values: ['--json', '--batch', '--repeats', '--conv'] });
  const convs = convImplementations(opts.get('--conv'));
  const quick = opts.get('--quick') === true;
  const batch = positiveInt(opts, '--batch', quick ? 16 : 128);
  const repeats = positiveInt(opts, '--repeats', quick ? 3 : 15);
  const runtime = info();
  console.log(`newton-cnn ${runtime.version}: SGD training step of cnn3 (squared loss, batch ${batch})`);
  console.log(`GEMM: ${runtime.gemm} (${runtime.blas}), ${getNumThreads()} threads, load average ${fmt(loadAverage(), 2)}`);
  console.log(`convolutions: ${convs.join(' and ')} (oneDNN: ${runtime.onednn.available ? runtime.onednn.version : runtime.onednn.reason})`);
  const sgemm = sgemmGflops(repeats);
  console.log(`SGEMM 1024³: ${fmt(sgemm)} GFLOP/s\n`);
  const rows: StepRow[] = [];
  for (const input of [[1, 28, 28], [3, 32, 32]] as [number, number, number][]) {
    for (const conv of convs) rows.push(stepRow(input, conv, batch, repeats, sgemm));
  }
  const columns: Column[] = [
    { title: 'input', align: 'left' },
    { title: 'conv', align: 'left' },
    { title: 'batch', align: 'right' },
    { title: 'ms/step (median)', align: 'right' },
    { title: 'min', align: 'right' },
    { title: 'images/s', align: 'right' },
    { title: 'GFLOP/step', align: 'right' },
    { title: 'GFLOP/s', align: 'right' },
    { title: 'of SGEMM', align: 'right' },
    { title: `target ≥ ${TARGET_FRACTION * 100}%`, align: 'left' },
  ];
  console.log(
    formatTable(
      columns,
      rows.map((r) => [
        r.input,
        r.conv,
        String(r.batch),
        fmt(r.msMedian),
        fmt(r.msMin),
        fmt(r.imagesPerSecond, 0),
        fmt(r.gflopPerStep, 3),
        fmt(r.gflops),
        `${fmt(r.fractionOfSgemm * 100)}%`,
        r.fractionOfSgemm >= TARGET_FRACTION ? 'PASS' : 'BELOW',
      ]),
    ),
  );
  const json = opts.get('--json');
  if (typeof json === 'string') {
    writeJson(json, { suite: 'train', machine: machineInfo(), runtime, sgemm1024Gflops: sgemm, rows });
  }
  return 0;
}

export const suite: BenchSuite = {
  name: 'train',
  description: 'SGD training-step throughput of cnn3 at batch 128 (28×28×1, 32×32×3) vs the SGEMM rate',
  usage: [
    '  --quick          batch 16 and 3 repeats (a smoke test)',
    '  --batch N        batch size (default 128)',
    '  --repeats N      timed steps (default 15)',
    '  --conv IMPL      one convolution implementation, onednn or builtin (default: both when oneDNN loaded)',
    '  --json FILE      also write the results as JSON',
  ].join('\n'),
  run,
};
