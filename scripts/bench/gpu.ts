// `npm run bench -- gpu`: throughput of the CUDA backend (only with a GPU; without one it
// prints why and exits 0, 'skipped').
//
//   SGEMM      TFLOP/s of cuBLAS at 1024³, 4096³ and 8192³ (2·M·N·K FLOPs). The math mode is
//              fixed when the backend is created: exact float32 by default, TF32 tensor cores
//              with NEWTON_CUDA_TF32=1 (scripts/gpu-check.sh runs `--only sgemm` both ways).
//   conv       TFLOP/s of conv2d forward, backward-data and backward-filter (cuDNN) for the
//              cnn3 layers (scripts/bench/ops.ts's cnn3 shapes) at batch 128 and 1024, on
//              28×28×1 and 32×32×3; FLOPs of a pass = 2·N·K·C·R·S·P·Q.
//   train      SGD training-step images/s of cnn3 at batch 128 and 1024 on 28×28×1 and
//              32×32×3: the step of scripts/bench/train.ts (forward in training mode, squared
//              loss value and gradient, backward, SGD update) on the GPU, with its GEMM-shaped
//              FLOPs (train.ts's cnn3StepFlops) as TFLOP/s.
//   gv         the time of one Gauss-Newton product (G_S + λI)v (Sequential.gaussNewtonProduct,
//              'rop' mode: R-operator pass + B + backward) over one forward+backward on the same
//              subsample, cnn3 on 28×28×1 at |S| = 3000 as in `bench newton` (target ≤ 1.4);
//              "n/a (jvp not implemented yet)" on a build whose network has no such product.
//
// Timing: CUDA ops return once their kernels are queued on the device's one stream, so every
// sample ends with a synchronising read (item() of a 1-element tensor on the same device
// copies to the host and waits for the stream), and the calibration call is synchronised
// too. A sample runs `inner` calls so that it lasts ≥ minSampleMs; the median is reported.
import { Tensor, conv2d, conv2dBackwardData, conv2dBackwardFilter, devices, gemm, info, memoryStats, randomUniform } from '../../lib';
import { cnn3 as cnn3Model, squaredLoss } from '../../lib/nn';
import { Sgd } from '../../lib/optim';
import { BenchSuite, Column, UsageError, fmt, formatTable, machineInfo, measureSynced, parseOptions, positiveInt, writeJson } from './common';
import { cnn3 as cnn3Shapes } from './ops';
import { cnn3StepFlops } from './train';

const CLASSES = 10;
const PARTS = ['sgemm', 'conv', 'train', 'gv'] as const;
type Part = (typeof PARTS)[number];


interface Row {
  part: Part;
  name: string;
  input: string;
  batch: number | null;
  shape: string;
  flops: number;
  ms: number;
  minMs: number;
  tflops: number;
  imagesPerSecond: number | null;
}

function sgemmRows(dev: string, sync: () => void, t: { repeats: number; warmup: number; minSampleMs: number }, quick: boolean): Row[] {
  const rows: Row[] = [];
  for (const n of quick ? [1024, 4096] : [1024, 4096, 8192]) {
    const a = randomUniform([n, n], { seed: 1, low: -1, high: 1, device: dev });
    const b = randomUniform([n, n], { seed: 2, low: -1, high: 1, device: dev });
    const tm = measureSynced(() => gemm(a, b).dispose(), sync, t);
    a.dispose();
    b.dispose();
    const flops = 2 * n ** 3;
    rows.push({ part: 'sgemm', name: `sgemm ${n}³`, input: '-', batch: null, shape: `M=N=K=${n}`, flops, ms: tm.medianMs, minMs: tm.minMs, tflops: flops / (tm.medianMs * 1e9), imagesPerSecond: null });
    console.log(`  sgemm ${n}³: ${fmt(flops / (tm.medianMs * 1e9), 2)} TFLOP/s`);
  }
  return rows;
}

function convRows(dev: string, sync: () => void, batches: number[], t: { repeats: number; warmup: number; minSampleMs: number }): Row[] {
  const rows: Row[] = [];
  for (const batch of batches) {
    for (const [h, w, c] of [[28, 28, 1], [32, 32, 3]] as const) {
      const ds = cnn3Shapes(batch, h, w, c);
      for (const layer of ds.layers) {
        const [n, cin, hh, ww] = layer.x;
        const [k, , r, s] = layer.w;
        const p = hh + 2 * layer.pad - r + 1, q = ww + 2 * layer.pad - s + 1;
        const opts = { padding: layer.pad, stride: 1 };
        const x = randomUniform(layer.x, { seed: 3, low: -1, high: 1, device: dev });
        const wt = randomUniform(layer.w, { seed: 4, low: -1, high: 1, device: dev });
        const dy = randomUniform([n, k, p, q], { seed: 5, low: -1, high: 1, device: dev });
        const flops = 2 * n * k * cin * r * s * p * q;
        const passes: [string, () => Tensor][] = [
          ['forward', () => conv2d(x, wt, null, opts)],
          ['backward-data', () => conv2dBackwardData(dy, wt, layer.x, opts)],
          ['backward-filter', () => conv2dBackwardFilter(dy, x, layer.w, opts)],
        ];
        for (const [pass, fn] of passes) {
          const tm = measureSynced(() => fn().dispose(), sync, t);
          rows.push({
            part: 'conv', name: `${layer.name} ${pass}`, input: ds.name, batch, shape: `x(${layer.x.join(',')}) w(${layer.w.join(',')})`,
            flops, ms: tm.medianMs, minMs: tm.minMs, tflops: flops / (tm.medianMs * 1e9), imagesPerSecond: null,
          });
        }
        for (const tt of [x, wt, dy]) tt.dispose();
      }
      console.log(`  conv passes of cnn3 on ${ds.name}, batch ${batch}: done`);
    }
  }
  return rows;
}

// The training step of scripts/bench/train.ts, on `dev`.
function trainRows(dev: string, sync: () => void, batches: number[], t: { repeats: number; warmup: number }): Row[] {
  const rows: Row[] = [];
  for (const batch of batches) {
    for (const input of [[1, 28, 28], [3, 32, 32]] as [number, number, number][]) {
      const [c, h, w] = input;
      const model = cnn3Model(input, CLASSES, { seed: 0, device: dev });
      const sgd = new Sgd(model, {}, 60000);
      const x = randomUniform([batch, c, h, w], { seed: 3, low: -0.5, high: 0.5, device: dev });
      const oneHot = new Float32Array(batch * CLASSES);
      for (let i = 0; i < batch; i++) oneHot[i * CLASSES + (i % CLASSES)] = 1;
      const y = Tensor.from(oneHot, { shape: [batch, CLASSES], device: dev });
      const step = (): void => {
        const z = model.forward(x, { training: true });
        squaredLoss.value(z, y); // a scalar read: synchronises, as in real training
        const dz = squaredLoss.gradient(z, y);
        model.backward(dz);
        sgd.step(batch);
        dz.dispose();
        z.dispose();
      };
      const tm = measureSynced(step, sync, { ...t, minSampleMs: 0 });
      model.releaseCache();
      for (const tt of [x, y]) tt.dispose();
      sgd.dispose();
      model.dispose();
      const flops = cnn3StepFlops(batch, h, w, c);
      const ips = batch / (tm.medianMs / 1000);
      rows.push({
        part: 'train', name: 'cnn3 SGD step', input: `${h}x${w}x${c}`, batch, shape: `batch ${batch}`,
        flops, ms: tm.medianMs, minMs: tm.minMs, tflops: flops / (tm.medianMs * 1e9), imagesPerSecond: ips,
      });
      console.log(`  cnn3 SGD step ${h}x${w}x${c} batch ${batch}: ${fmt(ips, 0)} images/s`);
    }
  }
  return rows;
}

interface GvResult {
  samples: number;
  forwardBackwardMs: number | null;
  gvMs: number | null;
  ratio: number | null;
}

// Gv / (forward + backward) on the device, as scripts/bench/newton.ts measures it on the CPU.
function gvRatio(dev: string, sync: () => void, n: number, t: { repeats: number; warmup: number }): GvResult {
  const input: [number, number, number] = [1, 28, 28];
  const model = cnn3Model(input, CLASSES, { seed: 0, device: dev });
  if (typeof (model as unknown as { gaussNewtonProduct?: unknown }).gaussNewtonProduct !== 'function') {
    model.dispose();
    return { samples: n, forwardBackwardMs: null, gvMs: null, ratio: null };
  }
  const x = randomUniform([n, ...input], { seed: 3, low: -0.5, high: 0.5, device: dev });
  const oneHot = new Float32Array(n * CLASSES);
  for (let i = 0; i < n; i++) oneHot[i * CLASSES + ((i * 7) % CLASSES)] = 1;
  const y = Tensor.from(oneHot, { shape: [n, CLASSES], device: dev });
  const v = randomUniform([model.numParameters], { seed: 4, low: -1, high: 1, device: dev });
  try {
    const fb = measureSynced(() => {
      const z = model.forward(x);
      const dz = squaredLoss.gradient(z, y);
      model.backward(dz);
      dz.dispose();
      z.dispose();
    }, sync, { ...t, minSampleMs: 0 });
    const z = model.forward(x); // the products run on the cache of one forward pass, as in CG
    const opts = { loss: squaredLoss, lambda: 1, C: 0.01, trainSize: 60000, mode: 'rop' as const };
    const gv = measureSynced(() => model.gaussNewtonProduct(v, opts).dispose(), sync, { ...t, minSampleMs: 0 });
    z.dispose();
    console.log(`  Gv / (forward+backward) at |S| = ${n}: ${fmt(gv.medianMs / fb.medianMs, 2)}`);
    return { samples: n, forwardBackwardMs: fb.medianMs, gvMs: gv.medianMs, ratio: gv.medianMs / fb.medianMs };
  } finally {
    model.releaseCache();
    for (const tt of [x, y, v]) tt.dispose();
    model.dispose();
  }
}

const USAGE = [
  '  --quick          batch 128 only, fewer repeats, no 8192³ SGEMM (smoke test)',
  '  --only PARTS     comma-separated subset of sgemm,conv,train,gv (default all)',
  '  --samples N      |S| of the Gv ratio (default 3000; 512 with --quick)',
  '  --device NAME    the CUDA device (default: the first available, e.g. cuda:0); cpu: self-test',
  '  --repeats N      timed samples per case, median reported (default 7; 3 with --quick)',
  '  --json FILE      also write the results as JSON',
].join('\n');

async function run(argv: readonly string[]): Promise<number> {
  const opts = parseOptions(argv, { flags: ['--quick'], values: ['--only', '--device', '--repeats', '--json', '--samples'] });
  const quick = opts.has('--quick');
  const only = typeof opts.get('--only') === 'string' ? String(opts.get('--only')).split(',').map((s) => s.trim()) : [...PARTS];
  for (const p of only) if (!(PARTS as readonly string[]).includes(p)) throw new UsageError(`--only: unknown part '${p}' (parts: ${PARTS.join(', ')})`);
  const repeats = positiveInt(opts, '--repeats', quick ? 3 : 7);
  const timing = { repeats, warmup: quick ? 1 : 3, minSampleMs: quick ? 5 : 25 };
  const batches = quick ? [128] : [128, 1024];

  const all = devices();
  const wanted = opts.get('--device');
  // --device cpu: a self-test of this suite's code on a machine without a GPU (timings are
  // the CPU backend's, not a GPU measurement).
  const cuda = all.find((d) => (d.kind === 'cuda' || wanted === 'cpu') && d.available && (typeof wanted !== 'string' || d.name === wanted || (wanted === 'cuda' && d.name === 'cuda:0')));
  if (!cuda) {
    const why = typeof wanted === 'string' && all.some((d) => d.kind === 'cuda' && d.available)
      ? `no available CUDA device named ${wanted} (have: ${all.filter((d) => d.kind === 'cuda' && d.available).map((d) => d.name).join(', ')})`
      : all.find((d) => d.kind === 'cuda')?.reason || 'the build has no CUDA backend';
    console.log(`bench gpu: skipped: ${why}`);
    return 0;
  }
  const dev = cuda.name;
  const tf32 = /^(1|true|on|yes)$/i.test(process.env.NEWTON_CUDA_TF32 ?? '');
  const inf = info();
  console.log(`newton-cnn ${inf.version} GPU benchmark on ${dev}: ${cuda.description}`);
  console.log(`math: ${tf32 ? 'TF32 tensor cores (NEWTON_CUDA_TF32=1)' : 'exact float32 (TF32 off; NEWTON_CUDA_TF32=1 turns it on)'}; ` +
    `median of ${timing.repeats} samples, each closed by a synchronising read${quick ? ' (--quick)' : ''}`);

  const probe = Tensor.zeros([1], { device: dev });
  const sync = (): void => {
    probe.item();
  };
  const rows: Row[] = [];
  let gv: GvResult | null = null;
  try {
    if (only.includes('sgemm')) rows.push(...sgemmRows(dev, sync, timing, quick));
    if (only.includes('conv')) rows.push(...convRows(dev, sync, batches, timing));
    if (only.includes('train')) rows.push(...trainRows(dev, sync, batches, { repeats: Math.max(timing.repeats, quick ? 3 : 10), warmup: timing.warmup }));
    if (only.includes('gv')) gv = gvRatio(dev, sync, positiveInt(opts, '--samples', quick ? 512 : 3000), { repeats: Math.max(3, Math.min(timing.repeats, 5)), warmup: 1 });
  } finally {
    probe.dispose();
  }

  const columns: Column[] = [
    { title: 'case', align: 'left' },
    { title: 'input', align: 'left' },
    { title: 'batch', align: 'right' },
    { title: 'shape', align: 'left' },
    { title: 'ms', align: 'right' },
    { title: 'TFLOP/s', align: 'right' },
    { title: 'images/s', align: 'right' },
  ];
  const table: string[][] = [];
  let last = '';
  for (const r of rows) {
    const group = `${r.part}/${r.input}/${r.batch ?? ''}`;
    if (last && group !== last) table.push([]);
    last = group;
    table.push([r.name, r.input, r.batch === null ? '-' : String(r.batch), r.shape, fmt(r.ms, r.ms < 1 ? 3 : 2), fmt(r.tflops, 2), r.imagesPerSecond === null ? '' : fmt(r.imagesPerSecond, 0)]);
  }
  if (rows.length) console.log(`\n${formatTable(columns, table)}`);
  if (gv === null) console.log('\nGv / (forward + backward) time ratio: not measured (--only)');
  else if (gv.ratio === null) console.log('\nGv / (forward + backward) time ratio: n/a (jvp not implemented yet)');
  else {
    console.log(`\nGv / (forward + backward) time ratio, cnn3 28×28×1, |S| = ${gv.samples}, rop mode: ${fmt(gv.ratio, 2)} ` +
      `(Gv ${fmt(gv.gvMs, 2)} ms, forward+backward ${fmt(gv.forwardBackwardMs, 2)} ms; target ≤ 1.4)`);
  }
  const mem = memoryStats(dev);
  console.log(`memory on ${dev}: peak ${fmt(mem.peakBytesInUse / 2 ** 20)} MiB in use, ${fmt(mem.bytesCached / 2 ** 20)} MiB cached, ${mem.allocations} allocations`);

  const json = opts.get('--json');
  if (typeof json === 'string') {
    writeJson(json, { suite: 'gpu', date: new Date().toISOString(), machine: machineInfo(), info: inf, device: cuda, tf32, options: { quick, only, ...timing, batches }, rows, gv });
  }
  return 0;
}

export const suite: BenchSuite = {
  name: 'gpu',
  description: 'CUDA: SGEMM and cnn3 conv pass TFLOP/s, cnn3 SGD step images/s at batch 128 and 1024, Gv ratio (needs a GPU)',
  usage: USAGE,
  run,
};
