// Runner (d) of the op cases (test/cases/case.ts): a bench line for every case with a
// `bench` spec — so every declared op — on one device, in float32: the median time of one
// call, GFLOP/s and GB/s, and the fraction of the machine's limit measured in the same run:
// the 1024³ SGEMM rate for ops that do arithmetic, the copy bandwidth for ops that move data
// (the larger of the two fractions says which limit binds).
import { copy, gemm, randomUniform, Tensor } from '../../lib';
import { families } from '../../test/cases';
import type { OpCase } from '../../test/cases/case';
import { disposeAll, inputValues, upload } from '../../test/cases/harness';
import { Column, fmt, formatTable, measure, type TimingOptions } from './common';

export interface OpLine {
  family: string;
  op: string;
  case: string;
  ms: number;
  gflops: number | null;
  gbPerS: number;
  /** The larger of GFLOP/s ÷ SGEMM and GB/s ÷ copy bandwidth. */
  fractionOfLimit: number;
  bound: 'compute' | 'memory';
}

export interface Limits {
  sgemmGflops: number;
  copyGbPerS: number;
}

/** The machine's limits on `device`: SGEMM 1024³ GFLOP/s and the bandwidth of a 64 MiB copy. */
export function measureLimits(device: string, t: TimingOptions): Limits {
  const a = randomUniform([1024, 1024], { seed: 1, device });
  const b = randomUniform([1024, 1024], { seed: 2, device });
  const sgemm = measure(() => gemm(a, b).dispose(), t);
  const n = 16 << 20; // 64 MiB of float32
  const src = randomUniform([n], { seed: 3, device });
  const dst = Tensor.zeros([n], { device });
  const c = measure(() => copy(dst, src), t);
  disposeAll({ a, b, src, dst });
  return { sgemmGflops: (2 * 1024 ** 3) / (sgemm.medianMs * 1e6), copyGbPerS: (2 * 4 * n) / (c.medianMs * 1e6) };
}

function timeCase(c: OpCase, device: string, t: TimingOptions): number {
  const values = inputValues(c, 'float32', true);
  const inputs = upload(c, values, 'float32', device);
  try {
    return measure(() => disposeAll(c.run(inputs, 'float32', device)), t).medianMs;
  } finally {
    disposeAll(inputs);
  }
}

/** Times every bench case on `device`; `filter` keeps the ops whose name contains it. */
export function runOpLines(device: string, t: TimingOptions, limits: Limits, filter?: string): OpLine[] {
  const lines: OpLine[] = [];
  for (const family of families) {
    for (const c of family.cases) {
      if (c.bench === undefined || (filter !== undefined && !c.op.includes(filter))) continue;
      if (c.dtypes !== undefined && !c.dtypes.includes('float32')) continue;
      const ms = timeCase(c, device, t);
      const gflops = c.bench.flops > 0 ? c.bench.flops / (ms * 1e6) : null;
      const gbPerS = c.bench.bytes / (ms * 1e6);
      const compute = gflops === null ? 0 : gflops / limits.sgemmGflops;
      const memory = gbPerS / limits.copyGbPerS;
      lines.push({
        family: family.name,
        op: c.op,
        case: c.name,
        ms,
        gflops,
        gbPerS,
        fractionOfLimit: Math.max(compute, memory),
        bound: compute >= memory ? 'compute' : 'memory',
      });
    }
  }
  return lines;
}

export function printOpLines(device: string, limits: Limits, lines: readonly OpLine[]): void {
  const columns: Column[] = [
    { title: 'op', align: 'left' },
    { title: 'case', align: 'left' },
    { title: 'ms', align: 'right' },
    { title: 'GFLOP/s', align: 'right' },
    { title: 'GB/s', align: 'right' },
    { title: 'of limit', align: 'right' },
    { title: 'bound', align: 'left' },
  ];
  const rows: string[][] = [];
  let family = '';
  for (const l of lines) {
    if (family && l.family !== family) rows.push([]);
    family = l.family;
    rows.push([l.op, l.case, fmt(l.ms, l.ms < 1 ? 3 : 2), fmt(l.gflops), fmt(l.gbPerS), `${(100 * l.fractionOfLimit).toFixed(0)}%`, l.bound]);
  }
  console.log(
    `\nEvery op (test/cases, float32) on ${device}: limits measured in this run: SGEMM 1024³ ${fmt(limits.sgemmGflops)} GFLOP/s, ` +
      `copy ${fmt(limits.copyGbPerS)} GB/s (read + write of 64 MiB)\n${formatTable(columns, rows)}`,
  );
}
