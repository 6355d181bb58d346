// The shared harness of the paper-reproduction scripts (issue 19): one way to parse the common
// options, to label the mode a number came from, to seed runs, to write the results (a markdown
// table per table/figure: the paper's value, ours as mean ± std over runs, the mode), the JSON of
// every run and the SVG plots (lib/plot.ts). Each paper's script (scripts/repro-<paper>.ts)
// declares its modes and extra options and calls these; nothing here knows about a paper.
//
// Modes (issue 19): --quick is CI's smoke test of every table/figure path, --reduced a labelled
// reduction that fits on 2 CPU cores, --full the paper's settings. A mode's label travels with
// every number it produced, so a reduced or substitute number is never read as the paper's.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { linePlotSvg, panelPlotSvg, plottingAvailable, PLOTTING_MISSING, type LinePlotOptions, type PanelPlotOptions } from '../../lib/plot';
import { getNumThreads, info, setNumThreads } from '../../lib/runtime';

/** The three modes of every reproduction script. */
export type ReproMode = 'quick' | 'reduced' | 'full';

/** What a mode is, in words that go into every output (e.g. "reduced: 2 runs, …"). */
export interface ModeDescription {
  /** One line saying exactly what the mode runs and how it differs from the paper. */
  readonly summary: string;
}

/** An option a script adds to the common ones (always a string-valued option, e.g. --epochs N). */
export interface ExtraOption {
  readonly name: string;
  /** 'VALUE' in the usage text, e.g. 'N'. */
  readonly value: string;
  /** One line for the usage text. */
  readonly help: string;
  /** A flag without a value (default false). */
  readonly flag?: boolean;
}

/** The parsed common options. */
export interface ReproOptions {
  readonly mode: ReproMode;
  /** --runs N (undefined: the mode's default, the script decides). */
  readonly runs: number | undefined;
  /** --seed S: run r uses seed S + r (default 0). */
  readonly seed: number;
  /** --out DIR, resolved (default scripts/results/<paper>/<mode> under the working directory). */
  readonly out: string;
  /** --threads N (already applied to the runtime), or undefined. */
  readonly threads: number | undefined;
  /** --data NAME|PATH (undefined: the script's default). */
  readonly data: string | undefined;
  /** The script's extra options as given: a string, true for a given flag, undefined when absent. */
  readonly extra: ReadonlyMap<string, string | true>;
}

/** A bad command line: main() prints the message and the usage and exits with 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const MODES: readonly ReproMode[] = ['quick', 'reduced', 'full'];

/** The usage text: the common options, then the script's. */
export function usage(script: string, description: string, extras: readonly ExtraOption[], modes: Readonly<Record<ReproMode, string>>): string {
  const rows: [string, string][] = [
    ['--quick', `CI smoke test: ${modes.quick}`],
    ['--reduced', `a labelled reduction for 2 CPU cores: ${modes.reduced}`],
    ['--full', `the paper's settings: ${modes.full}`],
    ['--runs N', 'runs (seeds) per point, overriding the mode'],
    ['--seed S', 'run r uses seed S + r (default 0)'],
    ['--out DIR', `where the results go (default scripts/results/<paper>/<mode>)`],
    ['--threads N', 'CPU threads'],
    ['--data NAME|PATH', 'data set name or path (see below)'],
    ...extras.map((e): [string, string] => [e.flag === true ? `--${e.name}` : `--${e.name} ${e.value}`, e.help]),
    ['--help', 'this text'],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  return [`Usage: scripts/${script} (--quick | --reduced | --full) [options]`, '', description, '', 'Options:', ...rows.map(([a, b]) => `  ${a.padEnd(w)}  ${b}`)].join('\n');
}

function positiveInteger(name: string, v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1 || !Number.isSafeInteger(Number(v))) throw new UsageError(`--${name} must be a positive integer, got '${v}'`);
  return Number(v);
}

/** --seed and other non-negative integers. */
export function nonNegativeInteger(name: string, v: string): number {
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`--${name} must be a non-negative integer, got '${v}'`);
  return Number(v);
}

/** An extra option's positive integer value (undefined when absent). */
export function extraInteger(o: ReproOptions, name: string): number | undefined {
  const v = o.extra.get(name);
  if (v === undefined) return undefined;
  if (v === true) throw new UsageError(`--${name} needs a value`);
  return positiveInteger(name, v);
}

/** An extra option's positive finite number (undefined when absent). */
export function extraNumber(o: ReproOptions, name: string): number | undefined {
  const v = o.extra.get(name);
  if (v === undefined) return undefined;
  const x = v === true ? NaN : Number(v);
  if (!Number.isFinite(x) || !(x > 0)) throw new UsageError(`--${name} must be a positive number, got '${v === true ? '' : v}'`);
  return x;
}

/** An extra option's list of positive integers, e.g. --depths 2,4,8 (undefined when absent). */
export function extraIntegers(o: ReproOptions, name: string): number[] | undefined {
  const v = o.extra.get(name);
  if (v === undefined) return undefined;
  if (v === true || v.trim() === '') throw new UsageError(`--${name} needs a comma-separated list of positive integers`);
  return v.split(',').map((s) => positiveInteger(name, s.trim()));
}

/**
 * Parses the common options and the script's extras. Returns null for --help.
 * @throws UsageError naming the option: no mode or several, an unknown option, a bad value.
 */
export function parseReproOptions(argv: readonly string[], paper: string, extras: readonly ExtraOption[] = []): ReproOptions | null {
  const options: Record<string, { type: 'string' | 'boolean' }> = {
    help: { type: 'boolean' },
    quick: { type: 'boolean' },
    reduced: { type: 'boolean' },
    full: { type: 'boolean' },
    runs: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    threads: { type: 'string' },
    data: { type: 'string' },
  };
  for (const e of extras) {
    if (e.name in options) throw new Error(`parseReproOptions: extra option --${e.name} is a common option`);
    options[e.name] = { type: e.flag === true ? 'boolean' : 'string' };
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help === true) return null;
  const given = MODES.filter((m) => values[m] === true);
  if (given.length !== 1) throw new UsageError(given.length === 0 ? 'give a mode: --quick, --reduced or --full' : `give one mode, got ${given.map((m) => `--${m}`).join(' and ')}`);
  const mode = given[0];
  const str = (name: string): string | undefined => {
    const v = values[name];
    if (v !== undefined && typeof v !== 'string') throw new UsageError(`--${name} needs a value`);
    if (v === '') throw new UsageError(`--${name} must not be empty`);
    return v;
  };
  const runsText = str('runs');
  const seedText = str('seed');
  const threadsText = str('threads');
  const threads = threadsText === undefined ? undefined : positiveInteger('threads', threadsText);
  if (threads !== undefined) setNumThreads(threads);
  const extra = new Map<string, string | true>();
  for (const e of extras) {
    const v = values[e.name];
    if (v === true || typeof v === 'string') extra.set(e.name, v);
  }
  return {
    mode,
    runs: runsText === undefined ? undefined : positiveInteger('runs', runsText),
    seed: seedText === undefined ? 0 : nonNegativeInteger('seed', seedText),
    out: path.resolve(str('out') ?? path.join('scripts', 'results', paper, mode)),
    threads,
    data: str('data'),
    extra,
  };
}

// --- statistics --------------------------------------------------------------------------------

/** Mean and sample standard deviation (n − 1; 0 for one value) of the finite values; `n` counts them. */
export interface MeanStd {
  readonly mean: number;
  readonly std: number;
  readonly n: number;
}

/** Mean ± sample std of the finite values of `xs` (NaN mean when there are none). */
export function meanStd(xs: readonly number[]): MeanStd {
  const f = xs.filter((x) => Number.isFinite(x));
  const n = f.length;
  if (n === 0) return { mean: NaN, std: NaN, n: 0 };
  const mean = f.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(f.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}

/**
 * y at each of `at` by linear interpolation along a run's path (xs[i], ys[i]) in the order it was
 * recorded: the first segment [xs[i], xs[i+1]] that contains t gives y(t) (a decreasing loss
 * reaches t once; if it rises again later, the first time it got there counts). NaN where the
 * path never reaches t (no extrapolation) or a y is not finite.
 * @throws RangeError when xs and ys differ in length.
 */
export function interpolateAlong(xs: readonly number[], ys: readonly number[], at: readonly number[]): number[] {
  if (xs.length !== ys.length) throw new RangeError(`interpolateAlong: xs has ${xs.length} values but ys has ${ys.length}`);
  return at.map((t) => {
    for (let i = 0; i < xs.length; i++) {
      if (xs[i] === t) return ys[i];
      if (i + 1 < xs.length && (xs[i] - t) * (xs[i + 1] - t) < 0) {
        const u = (t - xs[i]) / (xs[i + 1] - xs[i]);
        return ys[i] + u * (ys[i + 1] - ys[i]);
      }
    }
    return NaN;
  });
}

/** n points evenly spaced from a to b (both included; [a] when n is 1). */
export function linspace(a: number, b: number, n: number): number[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`linspace: n must be a positive integer, got ${n}`);
  return n === 1 ? [a] : Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
}

// --- output --------------------------------------------------------------------------------------

/** A number with `digits` significant digits ('—' for NaN). */
export function fmt(x: number, digits = 3): string {
  if (Number.isNaN(x)) return '—';
  return Number.isFinite(x) ? Number(x.toPrecision(digits)).toString() : String(x);
}

/**
 * A duration given in hours, as the --full estimates and the measured costs print it: minutes
 * under an hour, hours (one decimal under 10) under two days, then days; '—' when not finite.
 */
export function durationText(hours: number): string {
  if (!Number.isFinite(hours)) return '—';
  if (hours < 1) return `${Math.max(1, Math.round(hours * 60))} min`;
  if (hours < 48) return `${hours < 10 ? hours.toFixed(1) : Math.round(hours)} h`;
  const days = hours / 24;
  return `${days < 10 ? days.toFixed(1) : Math.round(days)} days`;
}

/** "mean ± std (n runs)", or the value alone for one run. */
export function fmtMeanStd(s: MeanStd, digits = 3): string {
  if (s.n === 0) return '—';
  return s.n === 1 ? `${fmt(s.mean, digits)} (1 run)` : `${fmt(s.mean, digits)} ± ${fmt(s.std, 2)} (${s.n} runs)`;
}

/** A markdown table; `|` in cells is escaped. */
export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  for (const [i, r] of rows.entries()) if (r.length !== headers.length) throw new RangeError(`markdownTable: row ${i} has ${r.length} cells but there are ${headers.length} headers`);
  return [`| ${headers.map(cell).join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

/** One row of a figure's or table's comparison: what the paper shows, ours, and the mode. */
export interface ComparisonRow {
  /** What is compared (a curve, a depth, a statistic). */
  readonly what: string;
  /** The paper's value or claim, as the paper states or plots it. */
  readonly paper: string;
  /** Ours: usually fmtMeanStd(...). */
  readonly ours: string;
  /** Whether ours agrees: free text ('yes', 'no: …', 'partly: …'). */
  readonly agrees: string;
}

/** The markdown table of a figure's comparison rows, with the mode label in its own column. */
export function comparisonTable(rows: readonly ComparisonRow[], modeLabel: string): string {
  return markdownTable(
    ['', 'paper', 'ours (mean ± std over runs)', 'agrees', 'mode'],
    rows.map((r) => [r.what, r.paper, r.ours, r.agrees, modeLabel]),
  );
}

/** Progress lines on stderr with the elapsed time, for long work. */
export function progress(script: string): (message: string) => void {
  const t0 = performance.now();
  return (message: string) => {
    const s = (performance.now() - t0) / 1000;
    process.stderr.write(`[${script} ${s < 600 ? `${s.toFixed(1)}s` : `${(s / 60).toFixed(1)}min`}] ${message}\n`);
  };
}

/** The machine and library in one line, for the results. */
export function machineLine(): string {
  const rt = info();
  return `newton-cnn ${rt.version}, ${getNumThreads()} threads, BLAS ${rt.blas}, Node ${process.version}, ${process.platform}/${process.arch}`;
}

/** Writes `text` to DIR/name (creating DIR) and returns the path. */
export function writeOutput(dir: string, name: string, text: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
  return file;
}

/** JSON of every run (non-finite numbers as strings "NaN", "Infinity", which JSON cannot hold). */
export function writeRunsJson(dir: string, data: unknown): string {
  const text = JSON.stringify(data, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 1);
  return writeOutput(dir, 'runs.json', text);
}

/** A figure as SVG through lib/plot.ts: one line plot, or panels side by side. */
export async function writeFigure(dir: string, name: string, figure: LinePlotOptions | PanelPlotOptions): Promise<string> {
  if (!plottingAvailable()) throw new Error(PLOTTING_MISSING);
  const svg = 'panels' in figure ? await panelPlotSvg(figure) : await linePlotSvg(figure);
  return writeOutput(dir, name, svg);
}

/**
 * Runs a script's main: exit 0 when it returns, 2 with the usage for a UsageError, 1 with the
 * stack for anything else.
 */
export function runScript(script: string, usageText: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      if (e instanceof UsageError) {
        process.stderr.write(`${script}: ${e.message}\n\n${usageText}\n`);
        process.exit(2);
      }
      process.stderr.write(`${script}: error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
