// `npm run bench -- ops`: GEMM and convolution throughput of the CPU backend at the shapes of
// the paper's 3-layer CNN (cnn3, Table 4), against the machine's 1024³ SGEMM; then a bench
// line for every declared op from the case tables (op-cases.ts), on the CPU or on
// `--device cuda:N`.
//
// cnn3: conv1 5×5 C_in→32, pool 2×2; conv2 3×3 32→64, pool; conv3 3×3 64→64, pool;
// full: flattened → 10. Padding (h−1)/2 and stride 1, so each conv keeps H×W.
// FLOPs of a conv pass (forward, backward-data or backward-filter) = 2·N·K·C·R·S·P·Q.
// conv1 (C·R·S = 25 or 75) is memory-bound, so it is also reported in GB/s with
// bytes = input + weights + output, each read or written once (float32).
// Each conv pass runs under every convolution implementation present (oneDNN when it loaded,
// and the built-in im2col + GEMM; `--conv` picks one), alternately, so both see the same load.
import {
  type ConvImplementation,
  Tensor,
  blasAvailable,
  conv2d,
  conv2dBackwardData,
  conv2dBackwardFilter,
  gemm,
  getConvImplementation,
  getCpuIsa,
  getGemmImplementation,
  getNumThreads,
  info,
  oneDnnAvailable,
  randomUniform,
  setConvImplementation,
  setCpuIsa,
  setGemmImplementation,
  setNumThreads,
} from '../../lib';
import { CPU_ISAS } from '../../lib/native';
import type { CpuIsaName } from '../../lib';
import { measureLimits, printOpLines, runOpLines, type OpLine } from './op-cases';
import { printIsaLines, runIsaLines } from './op-isa';
import { printPoolLines, runPoolLines } from './pool-calls';
import {
  BenchSuite,
  Column,
  Timing,
  TimingOptions,
  fmt,
  formatTable,
  loadAverage,
  machineInfo,
  measure,
  parseOptions,
  positiveInt,
  UsageError,
  writeJson,
} from './common';

type GemmImpl = 'blas' | 'builtin';
type Shape4 = [number, number, number, number];

export const TARGET_FRACTION = 0.6;

interface ConvLayer {
  name: string; // conv1 …
  x: Shape4; // N, C, H, W
  w: Shape4; // K, C, R, S
  pad: number;
}

interface Dataset {
  name: string; // '28x28x1'
  layers: ConvLayer[];
  flattened: number; // input features of the final linear layer
}

// cnn3 at batch n on an h×w×c input.
export function cnn3(n: number, h: number, w: number, c: number): Dataset {
  const layers: ConvLayer[] = [];
  const spec: [string, number, number][] = [['conv1', 5, 32], ['conv2', 3, 64], ['conv3', 3, 64]];
  let [ch, hh, ww] = [c, h, w];
  for (const [name, r, k] of spec) {
    layers.push({ name, x: [n, ch, hh, ww], w: [k, ch, r, r], pad: (r - 1) / 2 });
    ch = k;
    hh = Math.floor(hh / 2); // 2×2 max pool, stride 2
    ww = Math.floor(ww / 2);
  }
  return { name: `${h}x${w}x${c}`, layers, flattened: ch * hh * ww };
}

export interface Row {
  group: 'gemm' | 'conv';
  name: string;
  dataset: string | null;
  layer: string | null;
  pass: string | null;
  /** The convolution implementation of a conv row. */
  conv: ConvImplementation | null;
  shape: string;
  flops: number;
  bytes: number | null;
  ms: number;
  minMs: number;
  gflops: number;
  fractionOfSgemm: number | null;
  gbPerS: number | null;
  target: 'PASS' | 'BELOW' | null;
  samples: number;
  innerIterations: number;
}

export interface ImplResult {
  gemm: GemmImpl;
  blas: string;
  threads: number;
  sgemm1024Gflops: number; // the reference: the better of the two SGEMM medians below
  sgemm1024GflopsStart: number;
  sgemm1024GflopsEnd: number;
  rows: Row[];
}

const MB = 1e6;

function random(shape: readonly number[], seed: number): Tensor {
  return randomUniform(shape, { seed, low: -1, high: 1 });
}

function time(fn: () => Tensor, t: TimingOptions): Timing {
  return measure(() => fn().dispose(), t);
}

function gemmRow(
  name: string, dataset: string | null, m: number, n: number, k: number, transB: boolean, t: TimingOptions,
): Row {
  const a = random([m, k], 1);
  const b = random(transB ? [n, k] : [k, n], 2);
  const timing = time(() => gemm(a, b, { transB }), t);
  a.dispose();
  b.dispose();
  const flops = 2 * m * n * k;
  return {
    group: 'gemm', name, dataset, layer: null, pass: null, conv: null,
    shape: `M=${m} N=${n} K=${k}${transB ? ' (Bᵀ)' : ''}`,
    flops, bytes: null, ms: timing.medianMs, minMs: timing.minMs, gflops: flops / (timing.medianMs * MB),
    fractionOfSgemm: null, gbPerS: null, target: null, samples: timing.samplesMs.length,
    innerIterations: timing.innerIterations,
  };
}

function convRows(ds: Dataset, layer: ConvLayer, convs: readonly ConvImplementation[], t: TimingOptions): Row[] {
  const [n, c, h, w] = layer.x;
  const [k, , r, s] = layer.w;
  const p = h + 2 * layer.pad - r + 1;
  const q = w + 2 * layer.pad - s + 1;
  const opts = { padding: layer.pad, stride: 1 };
  const x = random(layer.x, 3);
  const wt = random(layer.w, 4);
  const dy = random([n, k, p, q], 5);
  const flops = 2 * n * k * c * r * s * p * q;
  const bytes = 4 * (n * c * h * w + k * c * r * s + n * k * p * q);
  const memoryBound = c * r * s <= 75;
  const passes: [string, () => Tensor][] = [
    ['forward', () => conv2d(x, wt, null, opts)],
    ['backward-data', () => conv2dBackwardData(dy, wt, layer.x, opts)],
    ['backward-filter', () => conv2dBackwardFilter(dy, x, layer.w, opts)],
  ];
  const rows: Row[] = [];
  const initialConv = getConvImplementation();
  for (const [pass, fn] of passes) {
    for (const conv of convs) {
      setConvImplementation(conv);
      const timing = time(fn, t);
      rows.push({
        group: 'conv', name: `${layer.name} ${pass} [${conv}]`, dataset: ds.name, layer: layer.name, pass, conv,
        shape: `x(${layer.x.join(',')}) w(${layer.w.join(',')})`,
        flops, bytes: memoryBound ? bytes : null, ms: timing.medianMs, minMs: timing.minMs,
        gflops: flops / (timing.medianMs * MB), fractionOfSgemm: null,
        gbPerS: memoryBound ? bytes / (timing.medianMs * MB) : null, target: null,
        samples: timing.samplesMs.length, innerIterations: timing.innerIterations,
      });
    }
  }
  setConvImplementation(initialConv);
  for (const tt of [x, wt, dy]) tt.dispose();
  return rows;
}

function runImpl(impl: GemmImpl, batch: number, convs: readonly ConvImplementation[], t: TimingOptions): ImplResult {
  setGemmImplementation(impl);
  const datasets = [cnn3(batch, 28, 28, 1), cnn3(batch, 32, 32, 3)];
  const rows: Row[] = [];

  process.stdout.write(`  [${impl}] SGEMM 1024³ …`);
  const ref = gemmRow('sgemm 1024³', null, 1024, 1024, 1024, false, t);
  rows.push(ref);
  process.stdout.write(` ${fmt(ref.gflops)} GFLOP/s\n`);

  // The GEMMs a batched im2col lowering runs for cnn3's forward convolutions:
  // W (K × C·R·S) · cols (C·R·S × N·P·Q), and the final linear layer x (N × F) · Wᵀ (F × 10).
  for (const ds of datasets) {
    process.stdout.write(`  [${impl}] GEMM shapes of cnn3 on ${ds.name} …\n`);
    for (const l of ds.layers) {
      const [n, c, h, w] = l.x;
      const [k, , r, s] = l.w;
      rows.push(gemmRow(`im2col ${l.name}`, ds.name, k, n * h * w, c * r * s, false, t));
    }
    rows.push(gemmRow(`linear ${ds.flattened}→10`, ds.name, batch, 10, ds.flattened, true, t));
  }
  for (const ds of datasets) {
    for (const l of ds.layers) {
      process.stdout.write(`  [${impl}] ${ds.name} ${l.name} passes …\n`);
      rows.push(...convRows(ds, l, convs, t));
    }
  }
  // SGEMM again at the end: on a machine whose load changed during the run, the better of the
  // two is the fairer reference (a slow reference would inflate every fraction).
  process.stdout.write(`  [${impl}] SGEMM 1024³ again …`);
  const refEnd = gemmRow('sgemm 1024³ (end)', null, 1024, 1024, 1024, false, t);
  process.stdout.write(` ${fmt(refEnd.gflops)} GFLOP/s\n`);
  rows.splice(1, 0, refEnd);
  const refGflops = Math.max(ref.gflops, refEnd.gflops);
  for (const row of rows) {
    row.fractionOfSgemm = row.gflops / refGflops;
    if (row.group === 'conv' && row.layer !== 'conv1') {
      row.target = row.fractionOfSgemm >= TARGET_FRACTION ? 'PASS' : 'BELOW';
    }
  }
  return {
    gemm: impl, blas: info().blas, threads: getNumThreads(), sgemm1024Gflops: refGflops,
    sgemm1024GflopsStart: ref.gflops, sgemm1024GflopsEnd: refEnd.gflops, rows,
  };
}

function printResult(res: ImplResult, batch: number): void {
  const columns: Column[] = [
    { title: 'case', align: 'left' },
    { title: 'input', align: 'left' },
    { title: 'shape', align: 'left' },
    { title: 'ms', align: 'right' },
    { title: 'GFLOP/s', align: 'right' },
    { title: '% SGEMM', align: 'right' },
    { title: 'GB/s', align: 'right' },
    { title: 'target', align: 'right' },
  ];
  const table: string[][] = [];
  let lastGroup = '';
  for (const r of res.rows) {
    const group = `${r.group}/${r.dataset ?? ''}`;
    if (lastGroup && group !== lastGroup) table.push([]);
    lastGroup = group;
    table.push([
      r.name,
      r.dataset ?? '-',
      r.shape,
      fmt(r.ms, r.ms < 1 ? 3 : 2),
      fmt(r.gflops),
      r.fractionOfSgemm === null ? '-' : `${(100 * r.fractionOfSgemm).toFixed(0)}%`,
      r.gbPerS === null ? '' : fmt(r.gbPerS),
      r.target ?? (r.group === 'conv' ? 'n/a' : ''),
    ]);
  }
  const impl = res.gemm === 'blas' ? `BLAS (${res.blas})`
    : res.blas === 'built-in' ? 'built-in kernel' : `built-in kernel (${res.blas} linked, not used)`;
  const title = `GEMM: ${impl}, threads ${res.threads}, batch ${batch}; ` +
    `SGEMM 1024³ = ${fmt(res.sgemm1024Gflops)} GFLOP/s ` +
    `(better of ${fmt(res.sgemm1024GflopsStart)} at the start and ${fmt(res.sgemm1024GflopsEnd)} at the end)`;
  console.log(`\n${title}\n${formatTable(columns, table)}`);
  const targeted = res.rows.filter((r) => r.target !== null);
  const pass = targeted.filter((r) => r.target === 'PASS').length;
  console.log(`\ntarget: conv2/conv3 passes ≥ ${(100 * TARGET_FRACTION).toFixed(0)}% of SGEMM ` +
    `(${fmt(res.sgemm1024Gflops)} GFLOP/s × ${TARGET_FRACTION} = ${fmt(res.sgemm1024Gflops * TARGET_FRACTION)} GFLOP/s): ` +
    `${pass}/${targeted.length} PASS` +
    (pass < targeted.length ? `; BELOW: ${targeted.filter((r) => r.target === 'BELOW').map((r) => `${r.dataset} ${r.name}`).join(', ')}` : ''));
  console.log('conv1 (C·R·S = 25 / 75) is memory-bound: judged by GB/s (bytes = input + weights + output, once each), not by the target.');
}

// The convolution implementations of `--conv` (both when absent and oneDNN loaded); exits with
// the reason when oneDNN is asked for and unavailable.
export function convImplementations(option: string | boolean | undefined): ConvImplementation[] {
  if (option === undefined) return oneDnnAvailable() ? ['builtin', 'onednn'] : ['builtin'];
  if (option !== 'onednn' && option !== 'builtin') {
    throw new Error(`--conv must be onednn or builtin, got ${JSON.stringify(option)}`);
  }
  if (option === 'onednn' && !oneDnnAvailable()) {
    throw new Error(`--conv onednn: oneDNN is not available: ${info().onednn.reason}`);
  }
  return [option];
}

const USAGE = [
  '  --quick          few repeats and batch 16 (CI smoke test)',
  '  --builtin        also run everything with the built-in GEMM (after the BLAS run)',
  '  --batch N        batch size of the cnn3 shapes (default 128; 16 with --quick)',
  '  --repeats N      timed samples per case, median reported (default 7; 3 with --quick)',
  '  --warmup N       untimed warm-up calls per case (default 2; 1 with --quick)',
  '  --threads N      setNumThreads(N) first (default: the library default)',
  '  --conv IMPL      the conv lines with one convolution implementation, onednn or builtin (default: both when oneDNN loaded)',
  '  --json FILE      write the results as JSON',
  '  --device D       run the per-op lines on D (cpu, cuda, cuda:N; default cpu); on a GPU the cnn3 CPU tables are skipped',
  '  --ops-only       only the per-op lines (every declared op, test/cases)',
  '  --op NAME        only the per-op lines of ops whose name contains NAME',
  '  --isa ISA        the CPU kernels\' vector code: baseline, avx2, avx512 (setCpuIsa), or all: the per-op lines',
  '                   under every ISA the processor runs, alternately, with the speed-ups (implies --ops-only)',
  '  --pool           only the cost of back-to-back small ops on the thread pool (compare NEWTON_POOL_SPIN_US=0)',
].join('\n');

async function run(argv: readonly string[]): Promise<number> {
  const opts = parseOptions(argv, {
    flags: ['--quick', '--builtin', '--ops-only', '--pool'],
    values: ['--json', '--batch', '--repeats', '--warmup', '--threads', '--device', '--op', '--conv', '--isa'],
  });
  const quick = opts.has('--quick');
  const batch = positiveInt(opts, '--batch', quick ? 16 : 128);
  const timing: TimingOptions = {
    repeats: positiveInt(opts, '--repeats', quick ? 3 : 7),
    warmup: positiveInt(opts, '--warmup', quick ? 1 : 2),
    minSampleMs: quick ? 2 : 20,
  };
  if (opts.has('--threads')) setNumThreads(positiveInt(opts, '--threads', 1));
  const isa = opts.get('--isa');
  if (isa !== undefined && isa !== 'all') {
    if (typeof isa !== 'string' || !(CPU_ISAS as readonly string[]).includes(isa)) {
      throw new UsageError(`--isa must be one of ${CPU_ISAS.join(', ')} or all, got ${String(isa)}`);
    }
    setCpuIsa(isa as CpuIsaName);
  }

  const inf = info();
  const initialImpl = getGemmImplementation();
  console.log(`newton-cnn ${inf.version} ops benchmark`);
  console.log(`addon:   ${inf.addon}`);
  console.log(`BLAS:    ${inf.blas} (available: ${blasAvailable() ? 'yes' : 'no'}); GEMM implementation: ${inf.gemm}`);
  const machine = machineInfo();
  console.log(`vector code: ${getCpuIsa()} (the processor runs ${inf.cpuIsa.supported.join(', ')})`);
  console.log(`threads: ${getNumThreads()}; CPU: ${String(machine.cpu)} (${String(machine.cores)} cores); Node ${process.version}`);
  const load = loadAverage();
  console.log(`load average (1 min): ${load.toFixed(2)}` +
    (load > Number(machine.cores) * 0.5 ? '  WARNING: the machine is busy; timings are unreliable' : ''));
  console.log(`batch ${batch}; median of ${timing.repeats} samples after ${timing.warmup} warm-up call(s)` +
    `${quick ? ' (--quick)' : ''}; float32`);

  const convs = convImplementations(opts.get('--conv'));
  console.log(`convolutions: ${convs.join(' and ')} (oneDNN: ${inf.onednn.available ? inf.onednn.version : inf.onednn.reason})`);
  const impls: GemmImpl[] = [blasAvailable() ? 'blas' : 'builtin'];
  if (opts.has('--builtin')) {
    if (impls[0] === 'builtin') console.log('--builtin: no BLAS in this build, the run below already uses the built-in GEMM');
    else impls.push('builtin');
  }
  if (opts.has('--pool')) {
    printPoolLines(runPoolLines(timing));
    return 0;
  }
  if (isa === 'all') {
    const lines = runIsaLines(timing, typeof opts.get('--op') === 'string' ? String(opts.get('--op')) : undefined);
    printIsaLines(lines);
    const file = opts.get('--json');
    if (typeof file === 'string') writeJson(file, { suite: 'ops', mode: 'isa', date: new Date().toISOString(), machine: { ...machine, loadAverage1mAtStart: load }, info: inf, options: timing, lines });
    return 0;
  }
  const device = String(opts.get('--device') ?? 'cpu');
  const filter = opts.get('--op');
  const opsOnly = opts.has('--ops-only') || filter !== undefined || device !== 'cpu';
  const results: ImplResult[] = [];
  let opLines: OpLine[] = [];
  try {
    if (!opsOnly) {
      for (const impl of impls) {
        const res = runImpl(impl, batch, convs, timing);
        results.push(res);
        printResult(res, batch);
      }
    }
    process.stdout.write(`  per-op lines on ${device} …\n`);
    const limits = measureLimits(device, timing);
    opLines = runOpLines(device, timing, limits, typeof filter === 'string' ? filter : undefined);
    printOpLines(device, limits, opLines);
  } finally {
    setGemmImplementation(initialImpl);
  }

  const file = opts.get('--json');
  if (typeof file === 'string') {
    writeJson(file, {
      suite: 'ops',
      date: new Date().toISOString(),
      machine: { ...machine, loadAverage1mAtStart: load },
      info: inf,
      options: { quick, batch, ...timing, targetFraction: TARGET_FRACTION, device },
      results,
      opLines,
    });
  }
  return 0;
}

export const suite: BenchSuite = {
  name: 'ops',
  description: 'SGEMM and conv2d throughput at the shapes of the paper\'s 3-layer CNN, and a line for every op',
  usage: USAGE,
  run,
};
