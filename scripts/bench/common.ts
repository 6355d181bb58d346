// Shared pieces of the benchmark suites: the suite interface, option parsing, timing and
// table printing. A suite is a module under scripts/bench/ exporting `suite: BenchSuite`;
// scripts/bench.ts lists them and dispatches `npm run bench -- <suite> [options]`.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { devices } from '../../lib';

export interface BenchSuite {
  name: string;
  description: string;
  usage: string; // options help, one per line
  run(argv: readonly string[]): Promise<number>; // exit code
}

// --- options -------------------------------------------------------------------------------
export interface OptionSpec {
  flags: readonly string[]; // boolean options, e.g. ['--quick']
  values: readonly string[]; // options taking a value, e.g. ['--json'] (as `--json F` or `--json=F`)
}

export class UsageError extends Error {}

export function parseOptions(argv: readonly string[], spec: OptionSpec): Map<string, string | true> {
  const out = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (spec.flags.includes(name) && eq < 0) {
      out.set(name, true);
    } else if (spec.values.includes(name)) {
      let value: string | undefined;
      if (eq > 0) value = arg.slice(eq + 1);
      else value = argv[++i];
      if (value === undefined || value === '') throw new UsageError(`${name} needs a value`);
      out.set(name, value);
    } else {
      throw new UsageError(`unknown option ${arg}`);
    }
  }
  return out;
}

export function positiveInt(opts: Map<string, string | true>, name: string, fallback: number): number {
  const v = opts.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${name} must be a positive integer, got ${String(v)}`);
  return n;
}

// --- timing ----------------------------------------------------------------------------------
export interface Timing {
  medianMs: number;
  minMs: number;
  samplesMs: number[];
  innerIterations: number; // calls per sample (small ops are batched up to minSampleMs)
}

export interface TimingOptions {
  repeats: number;
  warmup: number;
  minSampleMs: number;
}

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// Runs fn `warmup` times (at least once) and returns how many calls a sample needs to last at
// least minSampleMs (small ops are batched so the clock's resolution does not matter).
export function calibrateInner(fn: () => void, warmup: number, minSampleMs: number): number {
  let last = 0;
  for (let i = 0; i < Math.max(1, warmup); i++) {
    const t0 = nowMs();
    fn();
    last = nowMs() - t0;
  }
  return Math.min(1000, Math.max(1, Math.ceil(minSampleMs / Math.max(last, 1e-3))));
}

// One sample: the mean time of `inner` calls of fn, in ms.
export function timeSample(fn: () => void, inner: number): number {
  const t0 = nowMs();
  for (let i = 0; i < inner; i++) fn();
  return (nowMs() - t0) / inner;
}

// Runs fn `warmup` times, then `repeats` samples; each sample calls fn `inner` times, with
// `inner` chosen after the warm-up so a sample lasts at least minSampleMs.
export function measure(fn: () => void, o: TimingOptions): Timing {
  const inner = calibrateInner(fn, o.warmup, o.minSampleMs);
  const samples: number[] = [];
  for (let r = 0; r < o.repeats; r++) samples.push(timeSample(fn, inner));
  return { medianMs: median(samples), minMs: Math.min(...samples), samplesMs: samples, innerIterations: inner };
}

/** A timing of work that runs asynchronously (a GPU stream): medians of synchronised samples. */
export interface SyncedTiming {
  medianMs: number;
  minMs: number;
  samples: number;
  inner: number; // calls per sample
}

// Times fn closed by sync() (a read that waits for the device): warm-up, one calibration call,
// then `repeats` samples of `inner` calls, each sample ending with sync().
export function measureSynced(fn: () => void, sync: () => void, o: TimingOptions): SyncedTiming {
  for (let i = 0; i < o.warmup; i++) fn();
  sync();
  const t0 = nowMs();
  fn();
  sync();
  const one = Math.max(nowMs() - t0, 1e-3);
  const inner = Math.min(1000, Math.max(1, Math.ceil(o.minSampleMs / one)));
  const samples: number[] = [];
  for (let r = 0; r < o.repeats; r++) {
    const s0 = nowMs();
    for (let i = 0; i < inner; i++) fn();
    sync();
    samples.push((nowMs() - s0) / inner);
  }
  return { medianMs: median(samples), minMs: Math.min(...samples), samples: samples.length, inner };
}

// --- output -----------------------------------------------------------------------------------
export type Align = 'left' | 'right';
export interface Column {
  title: string;
  align: Align;
}

export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.title.length, ...rows.map((r) => (r[i] ?? '').length)));
  const cell = (s: string, i: number) => (columns[i].align === 'left' ? s.padEnd(widths[i]) : s.padStart(widths[i]));
  const line = (cells: readonly string[]) => cells.map((s, i) => cell(s ?? '', i)).join('  ').trimEnd();
  const out = [line(columns.map((c) => c.title)), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of rows) out.push(r.length === 0 ? '' : line(r));
  return out.join('\n');
}

export function fmt(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  return x.toFixed(digits);
}

export function machineInfo(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpu: cpus.length ? cpus[0].model.trim() : 'unknown',
    cores: cpus.length,
    hostname: os.hostname(),
  };
}

// 1-minute load average (0 where the platform has none, e.g. Windows).
export function loadAverage(): number {
  return os.loadavg()[0] ?? 0;
}

export function writeJson(file: string, data: unknown): void {
  const abs = path.resolve(file);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, JSON.stringify(data, null, 2) + '\n');
  console.log(`results written to ${abs}`);
}

/** The device to run on: 'cpu', or an available CUDA device ('cuda' = the first), or why not. */
export function resolveDevice(wanted: string): { name: string; description: string } | { skip: string } {
  const all = devices();
  if (wanted === 'cpu') {
    const cpu = all.find((d) => d.kind === 'cpu');
    return { name: 'cpu', description: cpu?.description ?? 'cpu' };
  }
  if (wanted !== 'cuda' && !/^cuda:\d+$/.test(wanted)) throw new UsageError(`--device must be cpu, cuda or cuda:N, got ${wanted}`);
  const cudas = all.filter((d) => d.kind === 'cuda' && d.available);
  const dev = wanted === 'cuda' ? cudas[0] : cudas.find((d) => d.name === wanted || (wanted === 'cuda:0' && d.name === 'cuda'));
  if (dev) return { name: dev.name, description: dev.description };
  const why = cudas.length > 0
    ? `no available CUDA device named ${wanted} (have: ${cudas.map((d) => d.name).join(', ')})`
    : all.find((d) => d.kind === 'cuda')?.reason || 'the build has no CUDA backend';
  return { skip: why };
}
