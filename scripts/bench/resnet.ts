// `npm run bench -- resnet`: costs of ResNet-20 (cifarResNet(20, [3, 32, 32], 10), batch norm
// after every conv, 272,474 parameters) on 32×32×3 inputs, softmax cross-entropy.
//
// Part 1 (SGD step): the step of scripts/bench/train.ts on ResNet-20 at batch 128: forward in
// training mode (batch statistics, running statistics updated, as trainSgd does), the loss
// value and gradient, backward into the flat gradient, and the Sgd update of θ; median ms,
// images/s, and the GEMM-shaped FLOPs (conv and linear passes; batch norm, ReLU, the adds and
// pooling are not counted) as GFLOP/s and as a fraction of the 1024³ SGEMM rate of this run.
//
// Part 2 (Newton products with batch norm in training mode): on one subsample S (|S| = 512),
//   fwd+bwd   forward with batchStatistics: true, loss gradient, backward — the forward IS
//             included (a gradient evaluation on S);
//   Gv        one Gauss-Newton product (G_S + λI)v, mode 'rop' (R-operator pass + B + backward),
//   Hv        one exact Hessian product (∇²f_S)v (R-operator pass keeping the tangents, then
//             the forward-over-reverse backward),
// both per product on ONE cached forward pass of S (as CG uses them: the forward is not rerun).
// Printed: Gv/(fwd+bwd) (target ≤ 1.6) and Hv/(fwd+bwd) (target ≤ 2.5), beside the ratio of
// their GEMM-shaped FLOPs (what the ratio would be if only conv/linear work counted).
//
// Memory: |S| = 512 peaks at about 3.2 GiB (the forward pass's activations and batch-norm x̂,
// plus the tangents Hv keeps). The CPU allocation cache (native/core/allocator.cpp) keeps up to the
// peak in use by default; above a limit set by NEWTON_CPU_CACHE_BYTES every pass faults fresh
// pages, so the suite prints the peak and a note when it exceeds the cache.
//
// --device cuda runs both parts on the GPU (every sample closed by a synchronising read, as
// scripts/bench/gpu.ts does); without an available CUDA device it prints why and exits 0.
import { Tensor, gemm, getNumThreads, info, memoryStats, randomUniform } from '../../lib';
import { cifarResNet, crossEntropyLoss, type Network } from '../../lib/nn';
import { Sgd } from '../../lib/optim';
import {
  BenchSuite,
  Column,
  fmt,
  formatTable,
  loadAverage,
  machineInfo,
  measure,
  parseOptions,
  positiveInt,
  resolveDevice,
  writeJson,
} from './common';

export const TARGET_GV_RATIO = 1.6;
export const TARGET_HV_RATIO = 2.5;
const CLASSES = 10;
const INPUT: [number, number, number] = [3, 32, 32];
const DEPTH = 20;
const TRAIN_SIZE = 50000; // CIFAR-10's l, for Cl in the products and the SGD step

/** GEMM-shaped FLOPs of the passes over a batch of n (conv: 2·N·K·C·R·S·P·Q, linear: 2·N·F·K per pass). */
export interface PassFlops {
  forward: number;
  backward: number; // parameter gradients + input gradients where a parameter is upstream
  gv: number; // R-operator pass + backward
  hv: number; // R-operator pass + forward-over-reverse backward
}

/**
 * Counts the conv and linear passes each pass makes (lib/nn/modules/conv2d.ts and linear.ts):
 *   forward  1 (W∗x);
 *   backward 1 (dW) + 1 (dx, unless the module reads the network input);
 *   jvp      1 (V∗x) + 1 (W∗R{x}, unless the module reads the network input: R{x} = 0);
 *   vjpJvp   1 (R{dW} from R{dy}) [+1 from R{x}] + 3 (dx, R{dx} = Wᵀ∗R{dy} + Vᵀ∗dy) unless it reads the input.
 */
export function passFlops(net: Network, n: number): PassFlops {
  const out: PassFlops = { forward: 0, backward: 0, gv: 0, hv: 0 };
  for (const info of net.layers()) {
    if (info.kind !== 'conv2d' && info.kind !== 'linear') continue;
    const w = info.weight;
    if (w === undefined) continue;
    const spatial = info.kind === 'conv2d' ? info.outputShape[1] * info.outputShape[2] : 1;
    const f = 2 * n * w.size * spatial;
    const first = net.nodeInputs[info.index].every((j) => j < 0); // reads the network input
    const fwd = f;
    const bwd = first ? f : 2 * f;
    const jvp = first ? f : 2 * f;
    const vjpJvp = first ? f : 2 * f + 3 * f;
    out.forward += fwd;
    out.backward += bwd;
    out.gv += jvp + bwd;
    out.hv += jvp + vjpJvp;
  }
  return out;
}

function labels(n: number, device: string): Tensor {
  const oneHot = new Float32Array(n * CLASSES);
  for (let i = 0; i < n; i++) oneHot[i * CLASSES + ((i * 7) % CLASSES)] = 1;
  return Tensor.from(oneHot, { shape: [n, CLASSES], device });
}

function model(device: string): Network {
  return cifarResNet(DEPTH, INPUT, CLASSES, { seed: 0, device });
}

interface Timer {
  device: string;
  /** Waits for the device's queued work (a no-op on the CPU). */
  sync: () => void;
}

/** measure() with every call closed by a synchronising read on a GPU. */
function timed(fn: () => void, t: Timer, o: { repeats: number; warmup: number }): { medianMs: number; minMs: number } {
  const r = measure(() => {
    fn();
    t.sync();
  }, { ...o, minSampleMs: 0 });
  return { medianMs: r.medianMs, minMs: r.minMs };
}

function sgemmGflops(t: Timer, repeats: number): number {
  const a = randomUniform([1024, 1024], { seed: 1, low: -1, high: 1, device: t.device });
  const b = randomUniform([1024, 1024], { seed: 2, low: -1, high: 1, device: t.device });
  const timing = measure(() => {
    gemm(a, b).dispose();
    t.sync();
  }, { repeats, warmup: 2, minSampleMs: 50 });
  a.dispose();
  b.dispose();
  return (2 * 1024 ** 3) / (timing.medianMs * 1e6);
}

/** Part 1 row. */
export interface StepRow {
  batch: number;
  msMedian: number;
  msMin: number;
  imagesPerSecond: number;
  gflopPerStep: number;
  gflops: number;
  fractionOfSgemm: number;
}

function stepRow(t: Timer, batch: number, repeats: number, sgemm: number): StepRow {
  const net = model(t.device);
  const sgd = new Sgd(net, {}, TRAIN_SIZE);
  const x = randomUniform([batch, ...INPUT], { seed: 3, low: -0.5, high: 0.5, device: t.device });
  const y = labels(batch, t.device);
  const flops = passFlops(net, batch);
  try {
    const step = (): void => {
      const z = net.forward(x, { training: true, updateStatistics: true });
      crossEntropyLoss.value(z, y); // a scalar read, as in real training (it synchronises)
      const dz = crossEntropyLoss.gradient(z, y);
      net.backward(dz);
      sgd.step(batch);
      dz.dispose();
      z.dispose();
    };
    const timing = timed(step, t, { repeats, warmup: 2 });
    const stepFlops = flops.forward + flops.backward;
    const gflops = stepFlops / (timing.medianMs * 1e6);
    return {
      batch,
      msMedian: timing.medianMs,
      msMin: timing.minMs,
      imagesPerSecond: batch / (timing.medianMs / 1000),
      gflopPerStep: stepFlops / 1e9,
      gflops,
      fractionOfSgemm: gflops / sgemm,
    };
  } finally {
    net.releaseCache();
    for (const tt of [x, y]) tt.dispose();
    sgd.dispose();
    net.dispose();
  }
}

/** Part 2 row: one kind of pass on S. */
export interface ProductRow {
  pass: 'fwd+bwd' | 'Gv' | 'Hv';
  samples: number;
  msMedian: number;
  msMin: number;
  ratio: number; // over fwd+bwd's median
  flopRatio: number; // GEMM-shaped FLOPs over fwd+bwd's
  target: number | null;
}

function productRows(t: Timer, n: number, repeats: number): ProductRow[] {
  const net = model(t.device);
  const x = randomUniform([n, ...INPUT], { seed: 3, low: -0.5, high: 0.5, device: t.device });
  const y = labels(n, t.device);
  const v = randomUniform([net.numParameters], { seed: 4, low: -1, high: 1, device: t.device });
  const flops = passFlops(net, n);
  const o = { repeats, warmup: 1 };
  try {
    const fb = timed(() => {
      const z = net.forward(x, { batchStatistics: true });
      const dz = crossEntropyLoss.gradient(z, y);
      net.backward(dz);
      dz.dispose();
      z.dispose();
    }, t, o);
    // The products run on the cache of one forward pass of S, as in CG.
    const z = net.forward(x, { batchStatistics: true });
    const common = { loss: crossEntropyLoss, C: 0.01, trainSize: TRAIN_SIZE };
    const gv = timed(() => net.gaussNewtonProduct(v, { ...common, lambda: 1, mode: 'rop' }).dispose(), t, o);
    const hv = timed(() => net.hessianProduct(v, { ...common, y }).dispose(), t, o);
    z.dispose();
    const fbFlops = flops.forward + flops.backward;
    return [
      { pass: 'fwd+bwd', samples: n, msMedian: fb.medianMs, msMin: fb.minMs, ratio: 1, flopRatio: 1, target: null },
      { pass: 'Gv', samples: n, msMedian: gv.medianMs, msMin: gv.minMs, ratio: gv.medianMs / fb.medianMs, flopRatio: flops.gv / fbFlops, target: TARGET_GV_RATIO },
      { pass: 'Hv', samples: n, msMedian: hv.medianMs, msMin: hv.minMs, ratio: hv.medianMs / fb.medianMs, flopRatio: flops.hv / fbFlops, target: TARGET_HV_RATIO },
    ];
  } finally {
    net.releaseCache();
    for (const tt of [x, y, v]) tt.dispose();
    net.dispose();
  }
}

async function run(argv: readonly string[]): Promise<number> {
  const opts = parseOptions(argv, { flags: ['--quick'], values: ['--json', '--batch', '--samples', '--repeats', '--device'] });
  const quick = opts.get('--quick') === true;
  const batch = positiveInt(opts, '--batch', quick ? 16 : 128);
  const samples = positiveInt(opts, '--samples', quick ? 32 : 512);
  const stepRepeats = positiveInt(opts, '--repeats', quick ? 3 : 10);
  const productRepeats = positiveInt(opts, '--repeats', quick ? 2 : 3);
  const wanted = String(opts.get('--device') ?? 'cpu');
  const dev = resolveDevice(wanted);
  if ('skip' in dev) {
    console.log(`bench resnet: skipped: ${dev.skip}`);
    return 0;
  }
  const runtime = info();
  const onCpu = dev.name === 'cpu';
  console.log(`newton-cnn ${runtime.version}: ResNet-${DEPTH} on 32x32x3 (cifarResNet, batch norm, softmax cross-entropy) on ${dev.name}: ${dev.description}`);
  console.log(
    onCpu
      ? `GEMM: ${runtime.gemm} (${runtime.blas}), ${getNumThreads()} threads, load average ${fmt(loadAverage(), 2)}`
      : `math: ${/^(1|true|on|yes)$/i.test(process.env.NEWTON_CUDA_TF32 ?? '') ? 'TF32 tensor cores (NEWTON_CUDA_TF32=1)' : 'exact float32'}; every timed call closed by a synchronising read`,
  );
  const probe = onCpu ? null : Tensor.zeros([1], { device: dev.name });
  const timer: Timer = { device: dev.name, sync: probe === null ? () => undefined : () => void probe.item() };
  let step: StepRow;
  let products: ProductRow[];
  let sgemm: number;
  try {
    sgemm = sgemmGflops(timer, stepRepeats);
    console.log(`SGEMM 1024³: ${fmt(sgemm)} GFLOP/s${quick ? ' (--quick)' : ''}\n`);
    step = stepRow(timer, batch, stepRepeats, sgemm);
    console.log(`SGD step (forward in training mode + loss + backward + Sgd update), median of ${stepRepeats}:`);
    console.log(
      formatTable(
        [
          { title: 'model', align: 'left' },
          { title: 'input', align: 'left' },
          { title: 'batch', align: 'right' },
          { title: 'ms/step (median)', align: 'right' },
          { title: 'min', align: 'right' },
          { title: 'images/s', align: 'right' },
          { title: 'GFLOP/step', align: 'right' },
          { title: 'GFLOP/s', align: 'right' },
          { title: 'of SGEMM', align: 'right' },
        ],
        [[
          `resnet${DEPTH}`,
          '32x32x3',
          String(step.batch),
          fmt(step.msMedian),
          fmt(step.msMin),
          fmt(step.imagesPerSecond, 0),
          fmt(step.gflopPerStep, 3),
          fmt(step.gflops),
          `${fmt(step.fractionOfSgemm * 100)}%`,
        ]],
      ),
    );
    products = productRows(timer, samples, productRepeats);
  } finally {
    probe?.dispose();
  }
  console.log(`\nNewton products with batch norm in training mode, |S| = ${samples}, median of ${productRepeats}:`);
  console.log('  fwd+bwd = forward (batchStatistics: true) + loss gradient + backward, the forward included;');
  console.log('  Gv (rop) and Hv = ONE product each on a cached forward pass of S (as CG uses them; the forward is not rerun).');
  const columns: Column[] = [
    { title: '|S|', align: 'right' },
    { title: 'pass', align: 'left' },
    { title: 'ms (median)', align: 'right' },
    { title: 'min', align: 'right' },
    { title: '/ (fwd+bwd)', align: 'right' },
    { title: 'target', align: 'left' },
    { title: '', align: 'left' },
    { title: 'FLOP ratio', align: 'right' },
  ];
  console.log(
    formatTable(
      columns,
      products.map((r) => [
        String(r.samples),
        r.pass === 'Gv' ? 'Gv (rop)' : r.pass,
        fmt(r.msMedian),
        fmt(r.msMin),
        r.target === null ? '1.00' : fmt(r.ratio, 2),
        r.target === null ? '' : `≤ ${r.target}`,
        r.target === null ? '' : r.ratio <= r.target ? 'PASS' : 'ABOVE',
        fmt(r.flopRatio, 2),
      ]),
    ),
  );
  console.log('  (FLOP ratio: conv + linear FLOPs of the pass over those of fwd+bwd; batch norm, ReLU and the adds are not counted)');
  const mem = memoryStats(dev.name);
  const gib = (b: number) => fmt(b / 2 ** 30, 2);
  console.log(`memory on ${dev.name}: peak ${gib(mem.peakBytesInUse)} GiB in use, ${gib(mem.bytesCached)} GiB cached`);
  if (mem.peakBytesInUse > mem.cacheLimitBytes) {
    console.log(
      `NOTE: the peak is above the allocation cache's limit (${gib(mem.cacheLimitBytes)} GiB; NEWTON_CPU_CACHE_BYTES sets it): blocks freed beyond it go back\n` +
        '  to the system and each pass re-faults fresh pages, which slows the forward pass most (fwd+bwd) and so lowers the ratios.',
    );
  }
  const json = opts.get('--json');
  if (typeof json === 'string') {
    writeJson(json, {
      suite: 'resnet',
      date: new Date().toISOString(),
      machine: { ...machineInfo(), loadAverage1m: loadAverage() },
      runtime,
      device: dev,
      options: { quick, batch, samples, stepRepeats, productRepeats, cacheLimitBytes: Number.isFinite(mem.cacheLimitBytes) ? mem.cacheLimitBytes : null },
      memory: mem,
      sgemm1024Gflops: sgemm,
      step,
      products,
    });
  }
  return 0;
}

export const suite: BenchSuite = {
  name: 'resnet',
  description: 'ResNet-20 on 32×32×3: SGD step images/s at batch 128; batch norm in training mode: Gv and Hv / forward+backward at |S| = 512 (--device cuda for the GPU)',
  usage: [
    '  --quick          batch 16, |S| 32, 3 and 2 repeats (a smoke test)',
    '  --batch N        batch size of the SGD step (default 128)',
    '  --samples N      the subsample size |S| of the products (default 512)',
    '  --repeats N      timed repetitions of every case (default 10 for the step, 3 for the products)',
    '  --device D       cpu (default), cuda or cuda:N (skipped, exit 0, without a CUDA device)',
    '  --json FILE      also write the results as JSON',
  ].join('\n'),
  run,
};
