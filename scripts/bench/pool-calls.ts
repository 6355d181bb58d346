// `npm run bench -- ops --pool`: the cost of handing small jobs to the thread pool (note
// [spinning pool] in native/core/parallel.cpp): many back-to-back element-wise ops just large
// enough to be split over every thread, as the small layers of an SGD step are. Compare runs
// with NEWTON_POOL_SPIN_US=0 (workers and caller sleep at once) and the default.
import { add, getNumThreads, randomUniform, relu, Tensor } from '../../lib';
import { measure, type TimingOptions } from './common';

export interface PoolLine {
  elements: number;
  /** Median µs of one op (add or relu, alternately). */
  usPerOp: number;
}

const CALLS = 200; // ops per timed call of measure

export function runPoolLines(t: TimingOptions): PoolLine[] {
  const lines: PoolLine[] = [];
  // Element-wise work is split into chunks of at least 16384 items (native/core/cpu/dispatch.h).
  for (const perThread of [16384, 65536]) {
    const n = perThread * getNumThreads();
    const x = randomUniform([n], { seed: 1, low: -1, high: 1 });
    const y = randomUniform([n], { seed: 2, low: -1, high: 1 });
    const out: Tensor[] = [];
    const timing = measure(() => {
      for (let i = 0; i < CALLS; i += 2) out.push(add(x, y), relu(x));
      for (const o of out.splice(0)) o.dispose();
    }, t);
    lines.push({ elements: n, usPerOp: (timing.medianMs * 1000) / CALLS });
    x.dispose();
    y.dispose();
  }
  return lines;
}

export function printPoolLines(lines: readonly PoolLine[]): void {
  const spin = process.env.NEWTON_POOL_SPIN_US;
  console.log(`\nBack-to-back element-wise ops on ${getNumThreads()} threads (NEWTON_POOL_SPIN_US=${spin === undefined || spin === '' ? 'default' : spin})`);
  for (const l of lines) console.log(`  ${String(l.elements).padStart(8)} float32: ${l.usPerOp.toFixed(2)} µs per op`);
}
