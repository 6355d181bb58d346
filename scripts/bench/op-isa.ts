// `npm run bench -- ops --isa all`: every CPU bench case (op-cases.ts) under every vector ISA
// the processor runs (note [run-time ISA] in native/core/cpu/isa.h), float32. The ISAs
// alternate sample by sample, so a change of load during the run falls on all of them alike;
// each is reported as the median of its samples and as a speed-up over the baseline.
import { getCpuIsa, info, setCpuIsa, type CpuIsaName } from '../../lib';
import { families } from '../../test/cases';
import { disposeAll, inputValues, upload } from '../../test/cases/harness';
import { Column, fmt, formatTable, measure, median, type TimingOptions } from './common';

export interface IsaLine {
  family: string;
  op: string;
  case: string;
  /** Median ms of one call per ISA. */
  ms: Partial<Record<CpuIsaName, number>>;
}

/** Times every CPU bench case whose op name contains `filter` (all without) under each ISA. */
export function runIsaLines(t: TimingOptions, filter?: string): IsaLine[] {
  const isas = info().cpuIsa.supported;
  const saved = getCpuIsa();
  const lines: IsaLine[] = [];
  // One sample per call of measure: the ISAs take turns, t.repeats rounds.
  const round: TimingOptions = { ...t, repeats: 1, warmup: 1 };
  try {
    for (const family of families) {
      for (const c of family.cases) {
        if (c.bench === undefined || (filter !== undefined && !c.op.includes(filter))) continue;
        if (c.dtypes !== undefined && !c.dtypes.includes('float32')) continue;
        const inputs = upload(c, inputValues(c, 'float32', true), 'float32', 'cpu');
        const samples = new Map<CpuIsaName, number[]>(isas.map((isa) => [isa, []]));
        try {
          for (let r = 0; r < t.repeats; r++) {
            for (const isa of isas) {
              setCpuIsa(isa);
              samples.get(isa)?.push(measure(() => disposeAll(c.run(inputs, 'float32', 'cpu')), round).medianMs);
            }
          }
        } finally {
          disposeAll(inputs);
        }
        const ms: Partial<Record<CpuIsaName, number>> = {};
        for (const [isa, s] of samples) ms[isa] = median(s);
        lines.push({ family: family.name, op: c.op, case: c.name, ms });
      }
    }
  } finally {
    setCpuIsa(saved);
  }
  return lines;
}

export function printIsaLines(lines: readonly IsaLine[]): void {
  const isas = info().cpuIsa.supported;
  const columns: Column[] = [
    { title: 'op', align: 'left' },
    { title: 'case', align: 'left' },
    ...isas.map((isa): Column => ({ title: `${isa} ms`, align: 'right' })),
    ...isas.slice(1).map((isa): Column => ({ title: `${isa} ×`, align: 'right' })),
  ];
  const rows: string[][] = [];
  let family = '';
  for (const l of lines) {
    if (family && l.family !== family) rows.push([]);
    family = l.family;
    const base = l.ms.baseline ?? NaN;
    rows.push([
      l.op,
      l.case,
      ...isas.map((isa) => fmt(l.ms[isa], (l.ms[isa] ?? 0) < 1 ? 3 : 2)),
      ...isas.slice(1).map((isa) => fmt(base / (l.ms[isa] ?? NaN), 2)),
    ]);
  }
  console.log(`\nEvery op (test/cases, float32) on cpu under each vector ISA (× = speed-up over the baseline)\n${formatTable(columns, rows)}`);
}
