/**
 * Command-line parsing of `newton-cnn plot LOG… -o FILE` (the conventions of lib/cli/args.ts:
 * strict node:util parseArgs, UsageError naming the option, exit code 2).
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { outputFile, parseError, positiveInt, UsageError } from './args';

/** The validated arguments of `newton-cnn plot`. */
export interface PlotArgs {
  /** The run logs (absolute paths), in legend order. */
  logs: string[];
  /** Their names in the legend (default: the file names without extension). */
  names: string[];
  /** The output file (absolute): .svg or .png. */
  output: string;
  /** 'svg' or 'png', from the output's extension. */
  format: 'svg' | 'png';
  /** The title. */
  title?: string;
  /** Panel width in pixels. */
  width?: number;
  /** Panel height in pixels. */
  height?: number;
}

const PLOT_OPTIONS = {
  output: { type: 'string', short: 'o' },
  names: { type: 'string' },
  title: { type: 'string' },
  width: { type: 'string' },
  height: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The text of `newton-cnn plot --help`. */
export function plotUsage(): string {
  return [
    'Usage: newton-cnn plot LOG [LOG…] -o FILE [options]',
    '',
    'Draws the training curves of run logs (written by `newton-cnn train --log run.jsonl` or',
    '`--log run.csv`): test accuracy and the objective against wall time and against epochs (SGD)',
    "or iterations (Newton), one line per run with a legend, as in the Newton paper's Figure 3.",
    '',
    'Options:',
    '  -o, --output FILE  the plot: FILE.svg, or FILE.png (needs the optional package sharp)',
    '  --names A,B,…      legend names of the runs (default: the log file names)',
    "  --title TEXT       the title (default 'Training curves')",
    '  --width N          width of each of the four panels in pixels (default 320)',
    '  --height N         height of each panel in pixels (default 220)',
    '  -h, --help         show this help',
    '',
    'Example:',
    '  newton-cnn train --log newton.jsonl',
    '  newton-cnn train --optimizer sgd --epochs 20 --log sgd.jsonl',
    '  newton-cnn plot newton.jsonl sgd.jsonl -o curves.svg',
  ].join('\n');
}

/**
 * Parses the arguments after `plot`; null for --help.
 * @throws UsageError naming the option: no logs, a missing log, no -o, an output that is neither .svg nor .png.
 */
export function parsePlotArgs(argv: readonly string[], cwd: string = process.cwd()): PlotArgs | null {
  let values: { [k: string]: string | boolean | undefined };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: [...argv], options: PLOT_OPTIONS, strict: true, allowPositionals: true }));
  } catch (e) {
    throw parseError(e, Object.keys(PLOT_OPTIONS));
  }
  if (values.help === true) return null;
  if (positionals.length === 0) throw new UsageError('give at least one run log (written by newton-cnn train --log run.jsonl)');
  const logs = positionals.map((p) => {
    const abs = path.resolve(cwd, p);
    if (!fs.existsSync(abs)) throw new UsageError(`no such run log '${p}'`);
    if (fs.statSync(abs).isDirectory()) throw new UsageError(`'${p}' is a directory; give run log files (.jsonl or .csv)`);
    return abs;
  });
  const outText = values.output;
  if (typeof outText !== 'string' || outText === '') throw new UsageError('--output FILE (-o) is required: the plot to write, FILE.svg or FILE.png');
  const ext = path.extname(outText).toLowerCase();
  if (ext !== '.svg' && ext !== '.png') throw new UsageError(`--output: '${outText}' must end in .svg or .png`);
  const output = outputFile('--output', outText, cwd);
  let names = positionals.map((p) => path.basename(p).replace(/\.(jsonl|json|csv)$/i, ''));
  if (typeof values.names === 'string') {
    names = values.names.split(',').map((n) => n.trim());
    if (names.length !== logs.length || names.some((n) => n === '')) throw new UsageError(`--names must give ${logs.length} non-empty names separated by commas, one per log, got '${values.names}'`);
  }
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new UsageError(`two runs are named '${dup}'; give --names A,B,… to tell them apart`);
  const size = (name: 'width' | 'height'): number | undefined => {
    const t = values[name];
    if (typeof t !== 'string') return undefined;
    const v = positiveInt(`--${name}`, t);
    if (v < 16 || v > 10000) throw new UsageError(`--${name} must be in [16, 10000] pixels, got ${v}`);
    return v;
  };
  const width = size('width');
  const height = size('height');
  return {
    logs,
    names,
    output,
    format: ext === '.png' ? 'png' : 'svg',
    ...(typeof values.title === 'string' ? { title: values.title } : {}),
    ...(width !== undefined ? { width } : {}),
    ...(height !== undefined ? { height } : {}),
  };
}
