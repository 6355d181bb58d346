/**
 * Command-line parsing of the model commands: `newton-cnn predict`, `evaluate` and `export`
 * (lib/cli/commands/model.ts). The conventions of lib/cli/args.ts: one option table per command,
 * strict parsing, UsageError naming the option.
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { choice, CIFAR_LABELS, FORMATS, outputFile, parseShape, positiveInt, readOptions, resolveDataOption, UsageError, type OptionKind } from './args';
import type { DataOptions } from './common';

type OptionTable = ReadonlyArray<readonly [string, { readonly kind: OptionKind; readonly value?: string; readonly help: string }]>;

/** The validated options of `newton-cnn predict`. */
export interface PredictArgs {
  /** The model file (absolute). */
  model: string;
  /** PNG/JPEG files (absolute). */
  images: string[];
  /** Records of a data file to predict on. */
  data?: DataOptions;
  /** Which split of --data. */
  split: 'train' | 'test';
  topK: number;
  /** Resize images of another size to the model's. */
  resize: boolean;
  /** No notice on stderr. */
  quiet: boolean;
  json: boolean;
  batchSize: number;
  device: string;
}

/** The validated options of `newton-cnn evaluate`. */
export interface EvaluateArgs {
  model: string;
  data: DataOptions;
  split: 'train' | 'test';
  json: boolean;
  batchSize: number;
  device: string;
}

/** The validated options of `newton-cnn export`. */
export interface ExportArgs {
  model: string;
  /** The ONNX file to write (absolute). */
  onnx: string;
}

const SPLITS = ['test', 'train'] as const;

const DATA_OPTIONS: OptionTable = [
  ['data', { kind: 'string', value: 'NAME|PATH', help: 'a data set as for train (fashion-mnist-small, a directory or a file)' }],
  ['format', { kind: 'string', value: 'FMT', help: `format of a data path: ${FORMATS.join(' | ')}` }],
  ['shape', { kind: 'string', value: 'C,H,W', help: 'image shape (required for LIBSVM)' }],
  ['test', { kind: 'string', value: 'FILE', help: 'the test file of a LIBSVM data path' }],
  ['classes', { kind: 'string', value: 'K', help: 'number of classes, for data whose format does not say' }],
  ['svhn-extra', { kind: 'boolean', help: 'SVHN: the training split includes extra_32x32.mat' }],
  ['cifar-labels', { kind: 'string', value: 'WHICH', help: `CIFAR-100: ${CIFAR_LABELS.join(' | ')} labels (default fine)` }],
  ['split', { kind: 'string', value: 'SPLIT', help: 'test | train: which part of the data (default test)' }],
  ['limit', { kind: 'string', value: 'N', help: 'only the first N images of the split' }],
];

const COMMON_OPTIONS: OptionTable = [
  ['batch-size', { kind: 'string', value: 'N', help: 'images per forward pass (default 256)' }],
  ['device', { kind: 'string', value: 'DEV', help: 'cpu | cuda | cuda:N (default cpu)' }],
  ['json', { kind: 'boolean', help: 'print JSON instead of text' }],
];

const PREDICT_OPTIONS: OptionTable = [
  ['model', { kind: 'string', value: 'FILE', help: 'the model file (.ncnn) written by train --save or Model.save' }],
  ['top', { kind: 'string', value: 'K', help: 'classes per image (default 5, at most the classes)' }],
  ['resize', { kind: 'boolean', help: "resize images of another size to the model's input (default: refuse them)" }],
  ['quiet', { kind: 'boolean', help: 'no notice on stderr' }],
  ...DATA_OPTIONS,
  ...COMMON_OPTIONS,
];

const EVALUATE_OPTIONS: OptionTable = [
  ['model', { kind: 'string', value: 'FILE', help: 'the model file (.ncnn)' }],
  ...DATA_OPTIONS,
  ...COMMON_OPTIONS,
];

const EXPORT_OPTIONS: OptionTable = [
  ['model', { kind: 'string', value: 'FILE', help: 'the model file (.ncnn)' }],
  ['onnx', { kind: 'string', value: 'FILE', help: 'the ONNX file to write' }],
];

function usage(synopsis: string, about: readonly string[], table: OptionTable, examples: readonly string[]): string {
  const flag = (name: string, v?: string) => `--${name}${v ? ` ${v}` : ''}`;
  const width = Math.max(...table.map(([n, s]) => flag(n, s.value).length), '-h, --help'.length);
  return [
    `Usage: ${synopsis}`,
    '',
    ...about,
    '',
    'Options:',
    ...table.map(([n, s]) => `  ${flag(n, s.value).padEnd(width)}  ${s.help}`),
    `  ${'-h, --help'.padEnd(width)}  show this help`,
    '',
    'Examples:',
    ...examples.map((e) => `  ${e}`),
    '',
    'Exit codes: 0 done, 1 error, 2 bad usage.',
  ].join('\n');
}

/** The text of `newton-cnn predict --help`. */
export function predictUsage(): string {
  return usage(
    'newton-cnn predict --model FILE [IMAGE…] [--data …] [options]',
    [
      'The top classes of each PNG/JPEG image (decoded by libjpeg-turbo / libpng) or of the records of a data file: with',
      "their probabilities (softmax of the outputs) for a cross-entropy model, with the outputs themselves",
      "for a squared-loss model (the paper's; JSON has both). Images get the preprocessing stored in the model.",
    ],
    PREDICT_OPTIONS,
    ['newton-cnn predict --model model.ncnn shirt.png boot.jpg', 'newton-cnn predict --model model.ncnn --data fashion-mnist-small --limit 5 --top 3 --json'],
  );
}

/** The text of `newton-cnn evaluate --help`. */
export function evaluateUsage(): string {
  return usage(
    'newton-cnn evaluate --model FILE --data NAME|PATH [options]',
    ['Accuracy, top-5 accuracy, per-class accuracy, the confusion matrix and the mean loss of a model', 'on the test (or training) split of a labelled data set.'],
    EVALUATE_OPTIONS,
    ['newton-cnn evaluate --model model.ncnn --data fashion-mnist-small', 'newton-cnn evaluate --model model.ncnn --data ./cifar-10-batches-bin --json'],
  );
}

/** The text of `newton-cnn export --help`. */
export function exportUsage(): string {
  return usage(
    'newton-cnn export --model FILE --onnx OUT.onnx',
    [
      "Writes the model's network as ONNX (opset 17) for onnxruntime and other runtimes. The ONNX graph",
      "takes preprocessed images; the preprocessing and class names are in its metadata.",
    ],
    EXPORT_OPTIONS,
    ['newton-cnn export --model model.ncnn --onnx model.onnx'],
  );
}

/** argv split into option tokens (with their values) and positionals. */
function splitPositionals(argv: readonly string[], table: OptionTable): { options: string[]; positionals: string[] } {
  const stringOptions = new Set(table.filter(([, s]) => s.kind === 'string').map(([n]) => n));
  const options: string[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('-') && a !== '-') {
      options.push(a);
      if (a.startsWith('--') && !a.includes('=') && stringOptions.has(a.slice(2)) && i + 1 < argv.length) options.push(argv[++i]);
    } else {
      positionals.push(a);
    }
  }
  return { options, positionals };
}

function existingFile(flag: string, text: string, cwd: string): string {
  const p = path.resolve(cwd, text);
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (st === undefined) throw new UsageError(`${flag}: ${text}: no such file`);
  if (st.isDirectory()) throw new UsageError(`${flag}: ${text} is a directory, not a file`);
  return p;
}

type Reader = NonNullable<ReturnType<typeof readOptions>>;

function dataOptions(r: Reader, cwd: string): DataOptions | undefined {
  const data = r.opt('data', (_, t) => resolveDataOption(t, cwd));
  const format = r.opt('format', (f, t) => choice(f, t, FORMATS));
  const shape = r.opt('shape', parseShape);
  const test = r.opt('test', (f, t) => existingFile(f, t, cwd));
  const limit = r.opt('limit', positiveInt);
  const classes = r.opt('classes', positiveInt);
  const svhnExtra = r.bool('svhn-extra');
  const cifarLabels = r.opt('cifar-labels', (f, t) => choice(f, t, CIFAR_LABELS));
  if (data === undefined) {
    const stray = ['format', 'shape', 'test', 'limit', 'split', 'classes', 'svhn-extra', 'cifar-labels'].find((k) => r.given.has(k));
    if (stray !== undefined) throw new UsageError(`--${stray} describes --data, which is not given`);
    return undefined;
  }
  return {
    data,
    ...(format !== undefined ? { format } : {}),
    ...(shape !== undefined ? { shape } : {}),
    ...(test !== undefined ? { test } : {}),
    ...(classes !== undefined ? { classes } : {}),
    ...(svhnExtra ? { svhnExtra } : {}),
    ...(cifarLabels !== undefined ? { cifarLabels } : {}),
    ...(limit !== undefined ? { trainLimit: limit, testLimit: limit } : {}),
  };
}

function common(r: Reader): { json: boolean; batchSize: number; device: string; split: 'train' | 'test' } {
  return {
    json: r.bool('json'),
    batchSize: r.opt('batch-size', positiveInt) ?? 256,
    device: r.str('device') ?? 'cpu',
    split: r.opt('split', (f, t) => choice(f, t, SPLITS)) ?? 'test',
  };
}

/**
 * Parses the arguments after `predict`; null when --help was asked for.
 * @throws UsageError naming the option.
 */
export function parsePredictArgs(argv: readonly string[], cwd: string = process.cwd()): PredictArgs | null {
  const { options, positionals } = splitPositionals(argv, PREDICT_OPTIONS);
  const r = readOptions(options, PREDICT_OPTIONS);
  if (r === null) return null;
  const model = r.opt('model', (f, t) => existingFile(f, t, cwd));
  if (model === undefined) throw new UsageError('--model is required');
  const images = positionals.map((p) => existingFile('image', p, cwd));
  const data = dataOptions(r, cwd);
  if (images.length === 0 && data === undefined) throw new UsageError('give image files (PNG/JPEG) to predict on, or --data');
  return {
    model,
    images,
    ...(data !== undefined ? { data } : {}),
    topK: r.opt('top', positiveInt) ?? 5,
    resize: r.bool('resize'),
    quiet: r.bool('quiet'),
    ...common(r),
  };
}

/**
 * Parses the arguments after `evaluate`; null when --help was asked for.
 * @throws UsageError naming the option.
 */
export function parseEvaluateArgs(argv: readonly string[], cwd: string = process.cwd()): EvaluateArgs | null {
  const r = readOptions(argv, EVALUATE_OPTIONS);
  if (r === null) return null;
  const model = r.opt('model', (f, t) => existingFile(f, t, cwd));
  if (model === undefined) throw new UsageError('--model is required');
  const data = dataOptions(r, cwd);
  if (data === undefined) throw new UsageError('--data is required (a labelled data set: a name, a directory or a file)');
  return { model, data, ...common(r) };
}

/**
 * Parses the arguments after `export`; null when --help was asked for.
 * @throws UsageError naming the option.
 */
export function parseExportArgs(argv: readonly string[], cwd: string = process.cwd()): ExportArgs | null {
  const r = readOptions(argv, EXPORT_OPTIONS);
  if (r === null) return null;
  const model = r.opt('model', (f, t) => existingFile(f, t, cwd));
  if (model === undefined) throw new UsageError('--model is required');
  const onnx = r.opt('onnx', (f, t) => outputFile(f, t, cwd));
  if (onnx === undefined) throw new UsageError('--onnx is required (the file to write)');
  return { model, onnx };
}
