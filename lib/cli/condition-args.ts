/**
 * Command-line parsing of `newton-cnn condition`: the Hessian's condition number at the initial
 * point against depth for n-shortcut linear networks ("Demystifying ResNet", Figure 5). The
 * conventions of lib/cli/args.ts: one option table, strict parseArgs, UsageError naming the option.
 *
 * @packageDocumentation
 */
import { LINEAR_NETWORK_INITIALIZATIONS, type LinearNetworkInitialization } from '../nn/linear-networks';
import { choice, CIFAR_LABELS, FORMATS, outputFile, parseNumber, parseShape, positiveInt, readOptions, resolveDataOption, UsageError, type OptionKind } from './args';

/** The validated options of `newton-cnn condition`. */
export interface ConditionArgs {
  /** Shortcut depths n (0: none). */
  shortcuts: number[];
  /** Network depths L. */
  depths: number[];
  /** Width d = the number of principal components = the number of classes. */
  width: number;
  /** Initialisation (absent: 'zero' with shortcuts, 'xavier' without, the paper's pairings). */
  initialization?: LinearNetworkInitialization;
  /** Runs per point (seeds seed, seed + 1, …). */
  runs: number;
  seed: number;
  /** Data set name or absolute path. */
  data: string;
  format?: (typeof FORMATS)[number];
  shape?: [number, number, number];
  /** Number of classes, for data whose format does not say. */
  classes?: number;
  /** CIFAR-100's label set. */
  cifarLabels?: (typeof CIFAR_LABELS)[number];
  /** The first N training images. */
  examples: number;
  /** Largest network (parameters) whose dense Hessian is built. */
  maxParameters: number;
  /** JSON results to this file (absolute), or '-' for stdout. */
  json?: string;
  /** The plot (SVG) to this file (absolute). */
  plot?: string;
  quiet: boolean;
  threads?: number;
}

const CONDITION_OPTIONS: ReadonlyArray<[string, { kind: OptionKind; value?: string; help: string }]> = [
  ['shortcuts', { kind: 'string', value: 'N,…', help: 'shortcut depths n: an identity around every n layers, 0 for none (default 1,2,3)' }],
  ['depths', { kind: 'string', value: 'L,…', help: 'network depths; each n uses those that are multiples of n (default 6,12,18,24)' }],
  ['width', { kind: 'string', value: 'D', help: 'width d = principal components = classes of the data (default 10)' }],
  ['init', { kind: 'string', value: 'INIT', help: `${LINEAR_NETWORK_INITIALIZATIONS.join(' | ')} (default: zero with shortcuts, xavier without)` }],
  ['runs', { kind: 'string', value: 'N', help: 'initialisations per point, seeds seed…seed+N−1; mean ± standard deviation (default 1)' }],
  ['seed', { kind: 'string', value: 'N', help: 'the first seed (default 0)' }],
  ['data', { kind: 'string', value: 'NAME|PATH', help: 'as for train (default fashion-mnist-small)' }],
  ['format', { kind: 'string', value: 'FMT', help: `format of a data path: ${FORMATS.join(' | ')}` }],
  ['shape', { kind: 'string', value: 'C,H,W', help: 'image shape (required for LIBSVM)' }],
  ['cifar-labels', { kind: 'string', value: 'WHICH', help: `CIFAR-100: ${CIFAR_LABELS.join(' | ')} labels (default fine)` }],
  ['classes', { kind: 'string', value: 'K', help: 'number of classes, for data whose format does not say (an IDX directory of unknown name, LIBSVM)' }],
  ['train-limit', { kind: 'string', value: 'N', help: 'the first N training images (default 1000)' }],
  ['max-parameters', { kind: 'string', value: 'N', help: 'largest network whose dense Hessian is built (default 4096)' }],
  ['threads', { kind: 'string', value: 'N', help: 'CPU threads (default: all cores)' }],
  ['json', { kind: 'string', value: 'FILE|-', help: 'write the points and the options as JSON to FILE, or to stdout instead of the table (-)' }],
  ['plot', { kind: 'string', value: 'FILE.svg', help: 'plot the condition numbers against depth (needs vega and vega-lite)' }],
  ['quiet', { kind: 'boolean', help: 'no progress on stderr, no header on stdout' }],
];

/** The text of `newton-cnn condition --help`. */
export function conditionUsage(): string {
  const flag = (name: string, v?: string) => `--${name}${v ? ` ${v}` : ''}`;
  const width = Math.max(...CONDITION_OPTIONS.map(([n, s]) => flag(n, s.value).length));
  return [
    'Usage: newton-cnn condition [options]',
    '',
    'The condition number of the Hessian at the initial point against depth for n-shortcut linear',
    'networks (Li et al., "Demystifying ResNet", Figure 5): for each n and depth L, the dense Hessian',
    "of the mean squared loss of a width-d linear network on the data's d leading whitened principal",
    'components (targets: the one-hot labels), and max|λ| / (10th percentile of |λ|), with max|λ|/min|λ|',
    'and the fraction of negative eigenvalues beside it. A network of depth L has d²·L parameters.',
    '',
    'Options:',
    ...CONDITION_OPTIONS.map(([n, s]) => `  ${flag(n, s.value).padEnd(width)}  ${s.help}`),
    `  ${'-h, --help'.padEnd(width)}  show this help`,
    '',
    'Examples:',
    '  newton-cnn condition                                       # n = 1, 2, 3 at depths 6 … 24',
    '  newton-cnn condition --shortcuts 0,1,2,3 --depths 6,12,24,36 --runs 3 --plot condition.svg',
    '',
    'Exit codes: 0 done, 1 error, 2 bad usage.',
  ].join('\n');
}

function integerList(flag: string, text: string, min: number): number[] {
  const parts = text.split(',').map((p) => p.trim());
  if (!parts.every((p) => /^\d+$/.test(p))) throw new UsageError(`${flag} must be integers N,… separated by commas, got '${text}'`);
  const out = parts.map(Number);
  const bad = out.find((v) => v < min);
  if (bad !== undefined) throw new UsageError(`${flag}: every value must be at least ${min}, got ${bad}`);
  if (new Set(out).size !== out.length) throw new UsageError(`${flag} names a value twice in '${text}'`);
  return out;
}

/**
 * Parses the arguments after `condition`; null when --help was asked for.
 * @throws UsageError naming the option.
 */
export function parseConditionArgs(argv: readonly string[], cwd: string = process.cwd()): ConditionArgs | null {
  const reader = readOptions(argv, CONDITION_OPTIONS);
  if (reader === null) return null;
  const { bool, opt } = reader;
  const file = (flag: string, t: string): string => outputFile(flag, t, cwd);
  const shortcuts = opt('shortcuts', (f, t) => integerList(f, t, 0)) ?? [1, 2, 3];
  const depths = opt('depths', (f, t) => integerList(f, t, 1)) ?? [6, 12, 18, 24];
  const width = opt('width', positiveInt) ?? 10;
  const initialization = opt('init', (f, t) => choice(f, t, LINEAR_NETWORK_INITIALIZATIONS));
  const runs = opt('runs', positiveInt) ?? 1;
  const seed = opt('seed', (f, t) => parseNumber(f, t, 'integer')) ?? 0;
  if (seed < 0) throw new UsageError(`--seed must be a non-negative integer, got ${seed}`);
  const examples = opt('train-limit', positiveInt) ?? 1000;
  if (examples < 2) throw new UsageError('--train-limit must be at least 2 (the principal components need a covariance)');
  const maxParameters = opt('max-parameters', positiveInt) ?? 4096;
  const biggest = Math.max(...depths) * width * width;
  if (biggest > maxParameters) {
    throw new UsageError(`--depths: depth ${Math.max(...depths)} at width ${width} has ${biggest} parameters > --max-parameters ${maxParameters} (a dense Hessian of ${biggest}² float64); lower the depths or raise --max-parameters`);
  }
  const usable = shortcuts.filter((n) => n === 0 || depths.some((d) => d % n === 0));
  if (usable.length < shortcuts.length) {
    const lost = shortcuts.filter((n) => !usable.includes(n));
    throw new UsageError(`--depths ${depths.join(',')} has no multiple of the shortcut depth ${lost.join(', ')}: give depths divisible by each n`);
  }
  const threads = opt('threads', positiveInt);
  const format = opt('format', (f, t) => choice(f, t, FORMATS));
  const shape = opt('shape', parseShape);
  const classes = opt('classes', positiveInt);
  const cifarLabels = opt('cifar-labels', (f, t) => choice(f, t, CIFAR_LABELS));
  const json = opt('json', (f, t) => (t === '-' ? '-' : file(f, t)));
  const plot = opt('plot', file);
  return {
    shortcuts,
    depths,
    width,
    ...(initialization !== undefined ? { initialization } : {}),
    runs,
    seed,
    data: opt('data', (_, t) => resolveDataOption(t, cwd)) ?? 'fashion-mnist-small',
    ...(format !== undefined ? { format } : {}),
    ...(shape !== undefined ? { shape } : {}),
    ...(classes !== undefined ? { classes } : {}),
    ...(cifarLabels !== undefined ? { cifarLabels } : {}),
    examples,
    maxParameters,
    ...(json !== undefined ? { json } : {}),
    ...(plot !== undefined ? { plot } : {}),
    quiet: bool('quiet'),
    ...(threads !== undefined ? { threads } : {}),
  };
}
