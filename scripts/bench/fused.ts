// `npm run bench -- fused`: the fused passes of native/core/ops/fused.h (Newton-ResNet's residual
// and Newton-CGNet's CG block, each forward, backward, jvp and vjpJvp) against the same outputs
// composed from the existing ops (add, sub, mul, scale, axpy, relu, reluBackward, dot), at a
// ResNet stage's activations (N, 64, 16, 16), float32, on the CPU or `--device cuda`.
//
// For each op: the fused time, the unfused time and their ratio; the fused pass's memory traffic
// (every tensor it reads and writes once, float32) in GB/s and as a fraction of a copy of the
// same size measured in the same run (read + write of N·64·16·16 floats: the bandwidth an
// element-wise pass can reach); and whether the two paths agree ("bits" where every output is
// bit-identical — the compositions below round in the fused kernels' order, note [fused rounding
// order] — else the largest difference relative to the output's largest magnitude: the unfused
// sums are dot products of float32 intermediates, the fused ones keep the terms in double).
//
// The unfused compositions take α and β as host numbers (the existing ops' scalars) and return
// their sums as host numbers (dot), so on a GPU they also wait for the device at every sum; the
// fused ops read α, β from (1) device tensors and leave their sums there.
//
// Timing: every sample ends with a synchronising read (item() of a 1-element tensor on the
// device: a no-op wait on the CPU; on a GPU it waits for the stream), after `inner` calls chosen
// so that a sample lasts ≥ minSampleMs; the median of the samples is reported.
import {
  add,
  axpy,
  cgNetUpdate,
  cgNetUpdateBackward,
  cgNetUpdateJvp,
  cgNetUpdateVjpJvp,
  copy,
  dot,
  getNumThreads,
  info,
  mul,
  newtonResidual,
  newtonResidualBackward,
  newtonResidualJvp,
  newtonResidualVjpJvp,
  randomUniform,
  relu,
  reluBackward,
  scale,
  setNumThreads,
  sub,
  Tensor,
} from '../../lib';
import {
  BenchSuite,
  Column,
  fmt,
  formatTable,
  loadAverage,
  machineInfo,
  measureSynced,
  parseOptions,
  positiveInt,
  resolveDevice,
  writeJson,
  type TimingOptions,
} from './common';

// What one path computes: named tensors (disposed by the caller) and host numbers.
type Result = Record<string, Tensor | number | null>;

interface OpBench {
  op: string;
  // float32 bytes the fused pass reads and writes once (n-element tensors; the (1) scalars are
  // left out)
  tensors: number;
  fused: () => Result;
  unfused: () => Result;
}

export interface FusedRow {
  op: string;
  fusedMs: number;
  unfusedMs: number;
  speedup: number;
  bytes: number;
  gbPerS: number;
  fractionOfCopy: number;
  agreement: string;
}

function disposeResult(r: Result): void {
  for (const v of Object.values(r)) if (v instanceof Tensor) v.dispose();
}

function values(v: Tensor | number | null): Float64Array | null {
  if (v === null) return null;
  if (typeof v === 'number') return Float64Array.of(v);
  return Float64Array.from(v.toArray() as ArrayLike<number>);
}

// "bits" when every output is the same bits, else max over outputs of max|Δ| / max|x|.
function agreement(a: Result, b: Result): string {
  let worst = 0;
  let same = true;
  for (const k of Object.keys(a)) {
    const x = values(a[k]);
    const y = values(b[k] ?? null);
    if (x === null || y === null) {
      if (x !== y) return `${k}: null on one path`;
      continue;
    }
    if (x.length !== y.length) return `${k}: ${x.length} vs ${y.length} values`;
    let scaleOf = 0;
    let diff = 0;
    for (let i = 0; i < x.length; i++) {
      if (!Object.is(x[i], y[i])) same = false;
      scaleOf = Math.max(scaleOf, Math.abs(x[i]));
      diff = Math.max(diff, Math.abs(x[i] - y[i]));
    }
    if (scaleOf > 0) worst = Math.max(worst, diff / scaleOf);
    else if (diff > 0) worst = Infinity;
  }
  return same ? 'bits' : `≤${worst.toExponential(1)}`;
}

// The 8 ops on tensors of `shape` on `dev` (relu and q / dprev given: the full forms).
function opBenches(shape: readonly number[], dev: string, keep: Tensor[]): OpBench[] {
  let seed = 10;
  const r = (): Tensor => {
    const t = randomUniform(shape, { seed: seed++, low: -1, high: 1, device: dev });
    keep.push(t);
    return t;
  };
  const s = (v: number): Tensor => {
    const t = Tensor.from(Float32Array.of(v), { shape: [1], device: dev });
    keep.push(t);
    return t;
  };
  // scalars: the same float32 numbers on both paths
  const al = Math.fround(0.37), be = Math.fround(-0.61), val = Math.fround(0.83), vbe = Math.fround(0.29);
  const alpha = s(al), beta = s(be), valpha = s(val), vbeta = s(vbe);
  const opts = { relu: true };
  // Newton residual inputs
  const a = r(), b = r(), p = r(), q = r(), ra = r(), rb = r(), rp = r(), rq = r(), dy = r(), rdy = r();
  const y = newtonResidual(a, b, p, q, alpha, opts);
  keep.push(y);
  // CG block inputs
  const cy = r(), g1 = r(), g2 = r(), g3 = r(), dprev = r(), ry = r(), rg1 = r(), rg2 = r(), rg3 = r(), rdprev = r();
  const dy1 = r(), dd = r(), rdy1 = r(), rdd = r(), rd = r();
  const { y1: cy1, d } = cgNetUpdate(cy, g1, g2, g3, dprev, alpha, beta);
  keep.push(cy1, d);

  // x + α·z as a new tensor (the existing ops' axpy is in place)
  const plus = (x: Tensor, alphaHost: number, z: Tensor): Tensor => {
    const out = x.clone();
    axpy(out, alphaHost, z);
    return out;
  };
  const free = (...ts: Tensor[]) => ts.forEach((t) => t.dispose());

  return [
    {
      op: 'newtonResidual',
      tensors: 5,
      fused: () => ({ y: newtonResidual(a, b, p, q, alpha, opts) }),
      unfused: () => {
        const pq = mul(p, q), sum = add(a, b);
        axpy(sum, al, pq);
        const out = relu(sum);
        free(pq, sum);
        return { y: out };
      },
    },
    {
      op: 'newtonResidualBackward',
      tensors: 7,
      fused: () => newtonResidualBackward(dy, y, p, q, alpha, opts),
      unfused: () => {
        const g = reluBackward(dy, y);
        const gq = mul(g, q), gp = mul(g, p);
        const dp = scale(gq, al), dq = scale(gp, al);
        const dalpha = dot(gp, q);
        free(gq, gp);
        return { g, dp, dq, dalpha };
      },
    },
    {
      op: 'newtonResidualJvp',
      tensors: 8,
      fused: () => ({ ry: newtonResidualJvp(y, ra, rb, p, q, rp, rq, alpha, valpha, opts) }),
      unfused: () => {
        const lin = add(ra, rb), pq = mul(p, q);
        axpy(lin, val, pq);
        const rpq = mul(rp, q), prq = mul(p, rq);
        const bil = add(rpq, prq);
        axpy(lin, al, bil);
        const out = reluBackward(lin, y);
        free(lin, pq, rpq, prq, bil);
        return { ry: out };
      },
    },
    {
      op: 'newtonResidualVjpJvp',
      tensors: 13,
      fused: () => newtonResidualVjpJvp(dy, rdy, y, p, q, rp, rq, alpha, valpha, opts),
      unfused: () => {
        const g = reluBackward(dy, y), rg = reluBackward(rdy, y);
        const gq = mul(g, q), gp = mul(g, p);
        const dp = scale(gq, al), dq = scale(gp, al);
        const rdp = scale(gq, val), rdq = scale(gp, val);
        const t1 = mul(rg, q), t2 = mul(g, rq), u1 = add(t1, t2);
        axpy(rdp, al, u1);
        const t3 = mul(rg, p), t4 = mul(g, rp), u2 = add(t3, t4);
        axpy(rdq, al, u2);
        const dalpha = dot(gp, q);
        const rgp = mul(rg, p), grp = mul(g, rp);
        const rdalpha = dot(rgp, q) + dot(grp, q) + dot(gp, rq);
        free(gq, gp, t1, t2, u1, t3, t4, u2, rgp, grp);
        return { g, rg, dp, rdp, dq, rdq, dalpha, rdalpha };
      },
    },
    {
      op: 'cgNetUpdate',
      tensors: 7,
      fused: () => cgNetUpdate(cy, g1, g2, g3, dprev, alpha, beta),
      unfused: () => {
        const s1 = add(cy, g1), s2 = add(s1, g2), sum = add(s2, g3);
        const bd = scale(dprev, be);
        const dd2 = sub(bd, sum);
        const y1 = plus(cy, al, dd2);
        free(s1, s2, sum, bd);
        return { y1, d: dd2 };
      },
    },
    {
      op: 'cgNetUpdateBackward',
      tensors: 7,
      fused: () => cgNetUpdateBackward(dy1, dd, d, dprev, alpha, beta),
      unfused: () => {
        const t = plus(dd, al, dy1);
        const dyOut = sub(dy1, t), dg = scale(t, -1), ddprev = scale(t, be);
        const dalpha = dot(dy1, d), dbeta = dot(t, dprev);
        free(t);
        return { dy: dyOut, dg, ddprev, dalpha, dbeta };
      },
    },
    {
      op: 'cgNetUpdateJvp',
      tensors: 9,
      fused: () => cgNetUpdateJvp(d, dprev, ry, rg1, rg2, rg3, rdprev, alpha, beta, valpha, vbeta),
      unfused: () => {
        const s1 = add(ry, rg1), s2 = add(s1, rg2), rsum = add(s2, rg3);
        const lin = scale(dprev, vbe);
        axpy(lin, be, rdprev);
        const rdOut = sub(lin, rsum);
        const ry1 = plus(ry, val, d);
        axpy(ry1, al, rdOut);
        free(s1, s2, rsum, lin);
        return { ry1, rd: rdOut };
      },
    },
    {
      op: 'cgNetUpdateVjpJvp',
      tensors: 14,
      fused: () => cgNetUpdateVjpJvp(dy1, dd, rdy1, rdd, d, rd, dprev, rdprev, alpha, beta, valpha, vbeta),
      unfused: () => {
        const t = plus(dd, al, dy1);
        const rt = plus(rdd, val, dy1);
        axpy(rt, al, rdy1);
        const dyOut = sub(dy1, t), rdyOut = sub(rdy1, rt);
        const dg = scale(t, -1), rdg = scale(rt, -1);
        const ddprev = scale(t, be);
        const rddprev = scale(t, vbe);
        axpy(rddprev, be, rt);
        const dalpha = dot(dy1, d), rdalpha = dot(rdy1, d) + dot(dy1, rd);
        const dbeta = dot(t, dprev), rdbeta = dot(rt, dprev) + dot(t, rdprev);
        free(t, rt);
        return { dy: dyOut, rdy: rdyOut, dg, rdg, ddprev, rddprev, dalpha, rdalpha, dbeta, rdbeta };
      },
    },
  ];
}

const USAGE = [
  '  --quick          batch 16, few repeats (CI smoke test)',
  '  --batch N        N of the (N, 64, 16, 16) tensors (default 128; 16 with --quick)',
  '  --device D       cpu (default), cuda or cuda:N (skipped, exit 0, without a CUDA device)',
  '  --repeats N      timed samples per path, median reported (default 9; 3 with --quick)',
  '  --warmup N       untimed calls before timing (default 2; 1 with --quick)',
  '  --threads N      setNumThreads(N) first (CPU; default: the library default)',
  '  --json FILE      write the results as JSON',
].join('\n');

async function run(argv: readonly string[]): Promise<number> {
  const opts = parseOptions(argv, { flags: ['--quick'], values: ['--batch', '--device', '--repeats', '--warmup', '--threads', '--json'] });
  const quick = opts.has('--quick');
  const batch = positiveInt(opts, '--batch', quick ? 16 : 128);
  const timing: TimingOptions = {
    repeats: positiveInt(opts, '--repeats', quick ? 3 : 9),
    warmup: positiveInt(opts, '--warmup', quick ? 1 : 2),
    minSampleMs: quick ? 5 : 50,
  };
  if (opts.has('--threads')) setNumThreads(positiveInt(opts, '--threads', 1));
  const dev = resolveDevice(String(opts.get('--device') ?? 'cpu'));
  if ('skip' in dev) {
    console.log(`bench fused: skipped: ${dev.skip}`);
    return 0;
  }
  const shape = [batch, 64, 16, 16];
  const n = shape.reduce((x, y) => x * y, 1);
  const inf = info();
  const machine = machineInfo();
  const load = loadAverage();
  console.log(`newton-cnn ${inf.version} fused-ops benchmark on ${dev.name} (${dev.description})`);
  console.log(`threads: ${getNumThreads()}; CPU: ${String(machine.cpu)} (${String(machine.cores)} cores); Node ${process.version}`);
  console.log(`load average (1 min): ${load.toFixed(2)}` + (load > Number(machine.cores) * 0.5 ? '  WARNING: the machine is busy; timings are unreliable' : ''));
  console.log(`tensors (${shape.join(', ')}) float32 = ${((4 * n) / 2 ** 20).toFixed(1)} MiB each; median of ${timing.repeats} samples${quick ? ' (--quick)' : ''}`);

  const keep: Tensor[] = [];
  const syncTensor = Tensor.zeros([1], { device: dev.name });
  const sync = () => void syncTensor.item();
  try {
    // the copy of the same size: read n floats, write n floats
    const src = randomUniform(shape, { seed: 1, device: dev.name });
    const dst = Tensor.zeros(shape, { device: dev.name });
    keep.push(src, dst);
    const copyTiming = measureSynced(() => copy(dst, src), sync, timing);
    const copyGbPerS = (8 * n) / (copyTiming.medianMs * 1e6);
    console.log(`copy of (${shape.join(', ')}) float32: ${fmt(copyTiming.medianMs, 3)} ms, ${fmt(copyGbPerS)} GB/s (read + write)\n`);

    const rows: FusedRow[] = [];
    for (const o of opBenches(shape, dev.name, keep)) {
      const f = o.fused();
      const u = o.unfused();
      const agree = agreement(f, u);
      disposeResult(f);
      disposeResult(u);
      const fusedMs = measureSynced(() => disposeResult(o.fused()), sync, timing).medianMs;
      const unfusedMs = measureSynced(() => disposeResult(o.unfused()), sync, timing).medianMs;
      const bytes = 4 * o.tensors * n;
      const gbPerS = bytes / (fusedMs * 1e6);
      rows.push({ op: o.op, fusedMs, unfusedMs, speedup: unfusedMs / fusedMs, bytes, gbPerS, fractionOfCopy: gbPerS / copyGbPerS, agreement: agree });
      process.stdout.write(`  ${o.op}: done\n`);
    }

    const columns: Column[] = [
      { title: 'op', align: 'left' },
      { title: 'fused ms', align: 'right' },
      { title: 'unfused ms', align: 'right' },
      { title: 'speed-up', align: 'right' },
      { title: 'tensors r+w', align: 'right' },
      { title: 'fused GB/s', align: 'right' },
      { title: 'of copy', align: 'right' },
      { title: 'fused vs unfused', align: 'left' },
    ];
    const table = rows.map((r) => [
      r.op, fmt(r.fusedMs, 3), fmt(r.unfusedMs, 3), `${fmt(r.speedup, 2)}×`, String(r.bytes / (4 * n)), fmt(r.gbPerS), `${(100 * r.fractionOfCopy).toFixed(0)}%`, r.agreement,
    ]);
    console.log(`\nfused vs unfused on ${dev.name}, (${shape.join(', ')}) float32; copy ${fmt(copyGbPerS)} GB/s in this run\n${formatTable(columns, table)}`);
    console.log('tensors r+w: n-element float32 tensors the fused pass reads and writes once; "of copy": its GB/s ÷ the copy\'s.');

    const file = opts.get('--json');
    if (typeof file === 'string') {
      writeJson(file, {
        suite: 'fused',
        date: new Date().toISOString(),
        machine: { ...machine, loadAverage1mAtStart: load },
        info: inf,
        device: dev,
        options: { quick, batch, shape, ...timing },
        copy: { ms: copyTiming.medianMs, gbPerS: copyGbPerS },
        rows,
      });
    }
  } finally {
    for (const t of keep) if (!t.disposed) t.dispose();
    syncTensor.dispose();
  }
  return 0;
}

export const suite: BenchSuite = {
  name: 'fused',
  description: 'Fused Newton-ResNet residual and Newton-CGNet CG-block passes vs the same outputs from existing ops, (N, 64, 16, 16) float32, and their GB/s vs a copy',
  usage: USAGE,
  run,
};
