/**
 * Command-line parsing of `newton-cnn spectrum` (the conventions of lib/cli/args.ts: one option
 * table for names, values and help; strict node:util parseArgs; UsageError, exit code 2, naming
 * the option).
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { ResNetStem } from '../nn/resnet';
import {
  checkStem,
  choice,
  CIFAR_LABELS,
  FORMATS,
  isModelName,
  LOSSES,
  MODELS,
  outputFile,
  type DataFileArgs,
  type OptionKind,
  parseNumber,
  parseShape,
  positiveInt,
  readOptions,
  resolveDataOption,
  STEMS,
  UsageError,
} from './args';

/** Curvature matrices `--matrix` accepts. */
export const MATRICES = ['hessian', 'gauss-newton'] as const;
/** Batch-norm modes `--batch-norm` accepts: each batch's statistics (training mode) or the running ones. */
export const BATCH_NORM_MODES = ['batch', 'running'] as const;
/** Element types `--dtype` accepts. */
export const DTYPES = ['float32', 'float64'] as const;
/** The default of --train-limit of `newton-cnn spectrum`. */
export const DEFAULT_SPECTRUM_EXAMPLES = 512;
/** The default of --top when no method is asked for. */
export const DEFAULT_TOP = 5;
/** The default of --max-dimension (denseSpectrum's: a 128 MiB matrix and 4096 products). */
export const DEFAULT_MAX_DIMENSION = 4096;

/**
 * What the operator is the curvature of: a named model at its seeded initial point, or a
 * checkpoint's network at its θ and buffers. (A third kind, the n-shortcut linear networks of
 * lib/nn/linear-networks.ts with their own data, belongs here: `{ kind: 'linear', depth, width,
 * shortcut, … }`, with its options in SPECTRUM_OPTIONS and a case in runSpectrum's buildSubject.)
 */
export type SpectrumSource = { readonly kind: 'model'; readonly model: string; readonly stem?: ResNetStem } | { readonly kind: 'checkpoint'; readonly checkpoint: string };

/** The validated options of `newton-cnn spectrum`. */
export interface SpectrumArgs extends DataFileArgs {
  /** The network and its point θ. */
  source: SpectrumSource;
  /** Data set name or absolute path (absent: the checkpoint's, else fashion-mnist-small). */
  data?: string;
  /** The operator averages over the first N training images. */
  trainLimit: number;
  /** Seed of the model's initialisation (--model) and of every random vector. */
  seed: number;
  /** Device. */
  device: string;
  /** CPU threads (default: the library's). */
  threads?: number;
  /** Element type of the network and the vectors (absent: the checkpoint's, else float32). */
  dtype?: (typeof DTYPES)[number];
  /** The curvature matrix. */
  matrix: (typeof MATRICES)[number];
  /** The loss (absent: the checkpoint's, else cross-entropy). */
  loss?: (typeof LOSSES)[number];
  /** Examples per batch of the operator (absent: all in one batch up to 1024, else 256). */
  batchSize?: number;
  /** Batch norm on each batch's statistics ('batch') or the running statistics ('running'). */
  batchNorm: (typeof BATCH_NORM_MODES)[number];
  /** Restrict the operator to the parameters of these node indices (ascending, distinct). */
  layers?: number[];
  /** Lanczos: the K largest eigenvalues. */
  top?: number;
  /** Lanczos: the K smallest (most negative) eigenvalues. */
  bottom?: number;
  /** Lanczos: the K eigenvalues largest in magnitude. */
  magnitude?: number;
  /** Lanczos: most steps per run; power iteration: most products. */
  maxIterations?: number;
  /** Lanczos / power iteration tolerance (relative). */
  tolerance?: number;
  /** Power iteration for the eigenvalue of largest magnitude. */
  power: boolean;
  /** Every eigenvalue through the dense matrix and LAPACK. */
  dense: boolean;
  /** The largest dimension --dense accepts. */
  maxDimension: number;
  /** Estimate the trace. */
  trace: boolean;
  /** Products of the trace estimate. */
  traceProducts: number;
  /** Hutchinson instead of Hutch++. */
  hutchinson: boolean;
  /** Spectral density (SLQ) plotted to this SVG file (absolute). */
  density?: string;
  /** SLQ start vectors. */
  densityVectors: number;
  /** SLQ Lanczos steps per vector. */
  densitySteps: number;
  /** Write the JSON results to this file (absolute), or '-' for stdout. */
  json?: string;
  /** No progress on stderr and no header on stdout. */
  quiet: boolean;
  /** Names (long option names) of the options given on the command line. */
  given: ReadonlySet<string>;
}

interface OptionSpec {
  kind: OptionKind;
  value?: string;
  help: string;
  /** Heading of the help section. */
  section: 'network' | 'data' | 'operator' | 'methods' | 'output';
}

// Long option name → spec; the order is the help text's.
const SPECTRUM_OPTIONS: ReadonlyArray<[string, OptionSpec]> = [
  ['model', { kind: 'string', value: 'NAME', section: 'network', help: `a model at its seeded initial point: ${MODELS.filter((m) => !/^resnet(20|32|44|56|110)$/.test(m)).join(' | ')} | resnet<6n+2> (resnet20, resnet32, …)` }],
  ['checkpoint', { kind: 'string', value: 'PATH', section: 'network', help: 'a checkpoint of `newton-cnn train`: its model, θ, buffers (batch-norm statistics), data and loss' }],
  ['stem', { kind: 'string', value: 'STEM', section: 'network', help: `ResNets with --model: ${STEMS.join(' | ')} (a checkpoint records its own)` }],
  ['seed', { kind: 'string', value: 'N', section: 'network', help: "seed of --model's initialisation and of every random vector (default 0)" }],
  ['dtype', { kind: 'string', value: 'TYPE', section: 'network', help: "float32 | float64: element type of θ and the vectors (default: the checkpoint's, else float32)" }],
  ['device', { kind: 'string', value: 'NAME', section: 'network', help: 'cpu (default) | cuda | cuda:N' }],
  ['threads', { kind: 'string', value: 'N', section: 'network', help: 'CPU threads (default: all cores)' }],
  ['data', { kind: 'string', value: 'NAME|PATH', section: 'data', help: "as for train (default: the checkpoint's data, else fashion-mnist-small)" }],
  ['format', { kind: 'string', value: 'FMT', section: 'data', help: `format of a data path: ${FORMATS.join(' | ')} (default: the checkpoint's, else guessed)` }],
  ['test', { kind: 'string', value: 'PATH', section: 'data', help: 'test file of a LIBSVM data path (default: PATH.t)' }],
  ['shape', { kind: 'string', value: 'C,H,W', section: 'data', help: 'image shape (required for LIBSVM; checked otherwise)' }],
  ['svhn-extra', { kind: 'boolean', section: 'data', help: 'SVHN: the training split includes extra_32x32.mat' }],
  ['cifar-labels', { kind: 'string', value: 'WHICH', section: 'data', help: `CIFAR-100: ${CIFAR_LABELS.join(' | ')} labels (default fine)` }],
  ['classes', { kind: 'string', value: 'K', section: 'data', help: 'number of classes, for data whose format does not say (an IDX directory of unknown name, LIBSVM)' }],
  ['train-limit', { kind: 'string', value: 'N', section: 'data', help: `the operator averages over the first N training images (default ${DEFAULT_SPECTRUM_EXAMPLES})` }],
  ['matrix', { kind: 'string', value: 'KIND', section: 'operator', help: 'hessian (default) | gauss-newton' }],
  ['loss', { kind: 'string', value: 'NAME', section: 'operator', help: `${LOSSES.join(' | ')} (default: the checkpoint's, else cross-entropy)` }],
  ['batch-size', { kind: 'string', value: 'N', section: 'operator', help: 'examples per forward pass (default: all up to 1024, else 256); with batch statistics they define the function' }],
  ['batch-norm', { kind: 'string', value: 'MODE', section: 'operator', help: "batch (default: each batch's statistics, as in training) | running (the running statistics)" }],
  ['layers', { kind: 'string', value: 'I,J,…', section: 'operator', help: 'restrict the operator to these nodes\' parameters (the others stay fixed); the header lists the nodes' }],
  ['top', { kind: 'string', value: 'K', section: 'methods', help: `the K largest eigenvalues by Lanczos (default ${DEFAULT_TOP} when no other method is asked for)` }],
  ['bottom', { kind: 'string', value: 'K', section: 'methods', help: 'the K smallest (most negative) eigenvalues by Lanczos' }],
  ['magnitude', { kind: 'string', value: 'K', section: 'methods', help: 'the K eigenvalues largest in magnitude by Lanczos' }],
  ['max-iterations', { kind: 'string', value: 'N', section: 'methods', help: 'most Lanczos steps per run (default max(4K + 40, 80)) and power iterations (default 100)' }],
  ['tolerance', { kind: 'string', value: 'X', section: 'methods', help: 'Lanczos: residuals ≤ X·max|λ| (default 1e-8 float64, 1e-4 float32); power: change ≤ X·|λ| (1e-6)' }],
  ['power', { kind: 'boolean', section: 'methods', help: 'the eigenvalue of largest magnitude by power iteration' }],
  ['dense', { kind: 'boolean', section: 'methods', help: 'every eigenvalue: the dense matrix (a product per column) and LAPACK; condition numbers, negative fraction' }],
  ['max-dimension', { kind: 'string', value: 'N', section: 'methods', help: `the largest operator --dense builds (default ${DEFAULT_MAX_DIMENSION}: 4096 products, 128 MiB)` }],
  ['trace', { kind: 'boolean', section: 'methods', help: 'the trace by Hutch++ (± its standard error)' }],
  ['trace-products', { kind: 'string', value: 'N', section: 'methods', help: 'products of --trace (default 99; Hutch++ uses a multiple of 3)' }],
  ['hutchinson', { kind: 'boolean', section: 'methods', help: "--trace by Hutchinson's estimator instead of Hutch++" }],
  ['density', { kind: 'string', value: 'FILE.svg', section: 'methods', help: 'the spectral density by stochastic Lanczos quadrature, plotted to FILE.svg (needs vega and vega-lite)' }],
  ['density-vectors', { kind: 'string', value: 'N', section: 'methods', help: 'start vectors of --density (default 8)' }],
  ['density-steps', { kind: 'string', value: 'N', section: 'methods', help: 'Lanczos steps per vector of --density (default 80)' }],
  ['json', { kind: 'string', value: 'FILE|-', section: 'output', help: 'write every result and the options as JSON to FILE, or to stdout instead of the table (-)' }],
  ['quiet', { kind: 'boolean', section: 'output', help: 'no progress on stderr, no header on stdout' }],
];

const SECTIONS: ReadonlyArray<[OptionSpec['section'], string]> = [
  ['network', 'Network (one of --model, --checkpoint):'],
  ['data', 'Data (loaded and preprocessed as by train):'],
  ['operator', 'Operator:'],
  ['methods', 'Methods:'],
  ['output', 'Output:'],
];

function helpRows(): string {
  const flag = (name: string, s: OptionSpec): string => `--${name}${s.value ? ` ${s.value}` : ''}`;
  const width = Math.max(...SPECTRUM_OPTIONS.map(([name, s]) => flag(name, s).length));
  const out: string[] = [];
  for (const [section, heading] of SECTIONS) {
    out.push('', heading);
    for (const [name, s] of SPECTRUM_OPTIONS.filter(([, x]) => x.section === section)) out.push(`  ${flag(name, s).padEnd(width)}  ${s.help}`);
    if (section === 'output') out.push(`  ${'-h, --help'.padEnd(width)}  show this help`);
  }
  return out.join('\n');
}

/** The text of `newton-cnn spectrum --help`. */
export function spectrumUsage(): string {
  return [
    'Usage: newton-cnn spectrum (--model NAME | --checkpoint PATH) [options]',
    '',
    "Curvature of a network's mean loss on the first --train-limit training images: the Hessian",
    '(exact, forward-over-reverse) or the Gauss-Newton matrix, on all of θ or on some layers, at a',
    "checkpoint's θ or at a model's initial point. Prints the extreme eigenvalues with their residuals",
    '‖Av − λv‖ (Lanczos with full reorthogonalisation; power iteration), the trace ± its standard error',
    '(Hutch++ or Hutchinson), every eigenvalue of a small operator with its condition numbers and',
    'negative fraction (--dense), and plots the spectral density (--density), with the products and the',
    'time of each method. Everything is seeded: the same command gives the same numbers.',
    helpRows(),
    '',
    'Results go to stdout (with --json -, one JSON object instead); progress goes to stderr. In the',
    'JSON, non-finite numbers (an infinite condition number) are the strings "Infinity", "NaN".',
    '',
    'Examples:',
    '  newton-cnn spectrum --checkpoint run.ckpt                     # the 5 largest Hessian eigenvalues',
    '  newton-cnn spectrum --checkpoint run.ckpt --top 3 --bottom 3 --trace --density density.svg',
    '  newton-cnn spectrum --model cnn3 --matrix gauss-newton --power --json spectrum.json',
    '  newton-cnn spectrum --model cnn3 --layers 0 --dense           # every eigenvalue of the first conv layer (832)',
    '',
    'Exit codes: 0 done, 1 error, 2 bad usage, 130 interrupted.',
  ].join('\n');
}

/** Parses `I,J,…` (distinct non-negative integers; returned ascending). */
export function parseLayers(flag: string, text: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  const out = parts.map((p) => {
    if (!/^\d+$/.test(p)) throw new UsageError(`${flag} must be node indices I,J,… (non-negative integers, e.g. 0,3), got '${text}'`);
    return Number(p);
  });
  const set = new Set(out);
  if (set.size !== out.length) throw new UsageError(`${flag} names a node twice in '${text}'`);
  return [...set].sort((a, b) => a - b);
}

/**
 * Parses and validates the arguments after `spectrum`. Returns null when --help was asked for.
 * @throws UsageError naming the option for unknown options, malformed values and bad combinations.
 */
export function parseSpectrumArgs(argv: readonly string[], cwd: string = process.cwd()): SpectrumArgs | null {
  const reader = readOptions(argv, SPECTRUM_OPTIONS);
  if (reader === null) return null;
  const { given, str, bool, opt } = reader;
  const num = (flag: string, t: string): number => parseNumber(flag, t, 'number');
  const file = (flag: string, t: string): string => outputFile(flag, t, cwd);

  // The network.
  const model = opt('model', (f, t) => {
    if (!isModelName(t)) throw new UsageError(`${f} must be one of: ${MODELS.join(', ')} or another resnet<6n+2> (got '${t}')`);
    return t;
  });
  const checkpointText = str('checkpoint');
  const stem = opt('stem', (f, t) => choice(f, t, STEMS));
  let source: SpectrumSource;
  if (model !== undefined && checkpointText !== undefined) {
    throw new UsageError('give --model NAME or --checkpoint PATH, not both (a checkpoint names its model)');
  } else if (model !== undefined) {
    checkStem(model, stem);
    source = { kind: 'model', model, ...(stem !== undefined ? { stem } : {}) };
  } else if (checkpointText !== undefined) {
    const checkpoint = path.resolve(cwd, checkpointText);
    if (!fs.existsSync(checkpoint)) throw new UsageError(`--checkpoint: no such file '${checkpointText}'`);
    if (stem !== undefined) throw new UsageError('--stem is for --model; a checkpoint records the stem its network was built with');
    source = { kind: 'checkpoint', checkpoint };
  } else {
    throw new UsageError('say which network: --model NAME (at its initial point) or --checkpoint PATH (a trained one)');
  }
  const seed = opt('seed', (f, t) => parseNumber(f, t, 'integer')) ?? 0;
  if (seed < 0) throw new UsageError(`--seed must be a non-negative integer, got ${seed}`);
  const dtype = opt('dtype', (f, t) => choice(f, t, DTYPES));
  const device = str('device') ?? 'cpu';
  if (!/^(cpu|cuda(:\d+)?)$/.test(device)) throw new UsageError(`--device must be cpu, cuda or cuda:N, got '${device}'`);
  const threads = opt('threads', positiveInt);
  if (threads !== undefined && threads > 256) throw new UsageError(`--threads must be at most 256, got ${threads}`);

  // The data.
  const data = opt('data', (_, t) => resolveDataOption(t, cwd));
  const format = opt('format', (f, t) => choice(f, t, FORMATS));
  const testText = str('test');
  const test = testText === undefined ? undefined : path.resolve(cwd, testText);
  if (test !== undefined && !fs.existsSync(test)) throw new UsageError(`--test: no such file '${testText}'`);
  const shape = opt('shape', parseShape);
  const classes = opt('classes', positiveInt);
  const svhnExtra = bool('svhn-extra');
  const cifarLabels = opt('cifar-labels', (f, t) => choice(f, t, CIFAR_LABELS));
  const trainLimit = opt('train-limit', positiveInt) ?? DEFAULT_SPECTRUM_EXAMPLES;

  // The operator.
  const matrix = opt('matrix', (f, t) => choice(f, t, MATRICES)) ?? 'hessian';
  const loss = opt('loss', (f, t) => choice(f, t, LOSSES));
  const batchSize = opt('batch-size', positiveInt);
  const batchNorm = opt('batch-norm', (f, t) => choice(f, t, BATCH_NORM_MODES)) ?? 'batch';
  const layers = opt('layers', parseLayers);

  // The methods.
  const top = opt('top', positiveInt);
  const bottom = opt('bottom', positiveInt);
  const magnitude = opt('magnitude', positiveInt);
  const maxIterations = opt('max-iterations', positiveInt);
  const tolerance = opt('tolerance', num);
  if (tolerance !== undefined && !(tolerance > 0 && tolerance < 1)) throw new UsageError(`--tolerance must be in (0, 1), got ${tolerance}`);
  const power = bool('power');
  const dense = bool('dense');
  const maxDimension = opt('max-dimension', positiveInt);
  const trace = bool('trace');
  const traceProducts = opt('trace-products', positiveInt);
  const hutchinson = bool('hutchinson');
  const density = opt('density', file);
  const densityVectors = opt('density-vectors', positiveInt);
  const densitySteps = opt('density-steps', positiveInt);
  const json = opt('json', (f, t) => (t === '-' ? '-' : file(f, t)));
  const quiet = bool('quiet');

  const needs = (option: string, on: boolean, what: string): void => {
    if (given.has(option) && !on) throw new UsageError(`--${option} needs ${what}`);
  };
  needs('trace-products', trace, '--trace');
  needs('hutchinson', trace, '--trace (it picks the trace estimator)');
  needs('density-vectors', density !== undefined, '--density FILE.svg');
  needs('density-steps', density !== undefined, '--density FILE.svg');
  needs('max-dimension', dense, '--dense');
  needs('max-iterations', top !== undefined || bottom !== undefined || magnitude !== undefined || power, '--top, --bottom, --magnitude or --power');
  needs('tolerance', top !== undefined || bottom !== undefined || magnitude !== undefined || power, '--top, --bottom, --magnitude or --power');
  if (trace && !hutchinson && traceProducts !== undefined && traceProducts < 3) {
    throw new UsageError(`--trace-products must be at least 3 for Hutch++ (a third each for the sketch, its exact trace and the rest), got ${traceProducts}; or add --hutchinson`);
  }
  if (density !== undefined && json !== undefined && json !== '-' && json === density) throw new UsageError('--json and --density name the same file');
  const anyMethod = top !== undefined || bottom !== undefined || magnitude !== undefined || power || dense || trace || density !== undefined;

  return {
    source,
    ...(data !== undefined ? { data } : {}),
    ...(format !== undefined ? { format } : {}),
    ...(test !== undefined ? { test } : {}),
    ...(shape !== undefined ? { shape } : {}),
    ...(classes !== undefined ? { classes } : {}),
    ...(svhnExtra ? { svhnExtra } : {}),
    ...(cifarLabels !== undefined ? { cifarLabels } : {}),
    trainLimit,
    seed,
    device,
    ...(threads !== undefined ? { threads } : {}),
    ...(dtype !== undefined ? { dtype } : {}),
    matrix,
    ...(loss !== undefined ? { loss } : {}),
    ...(batchSize !== undefined ? { batchSize } : {}),
    batchNorm,
    ...(layers !== undefined ? { layers } : {}),
    ...(top !== undefined ? { top } : anyMethod ? {} : { top: DEFAULT_TOP }),
    ...(bottom !== undefined ? { bottom } : {}),
    ...(magnitude !== undefined ? { magnitude } : {}),
    ...(maxIterations !== undefined ? { maxIterations } : {}),
    ...(tolerance !== undefined ? { tolerance } : {}),
    power,
    dense,
    maxDimension: maxDimension ?? DEFAULT_MAX_DIMENSION,
    trace,
    traceProducts: traceProducts ?? 99,
    hutchinson,
    ...(density !== undefined ? { density } : {}),
    densityVectors: densityVectors ?? 8,
    densitySteps: densitySteps ?? 80,
    ...(json !== undefined ? { json } : {}),
    quiet,
    given,
  };
}
