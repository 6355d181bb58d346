/**
 * Command-line parsing of `newton-cnn profile`: a short training workload under the profiler
 * (lib/profile.ts). The conventions of lib/cli/args.ts: strict parsing, UsageError naming the option.
 *
 * @packageDocumentation
 */
import { parseArgs } from 'node:util';
import { outputFile, UsageError } from './args';

export const PROFILE_MODELS = ['cnn3', 'resnet20'] as const;
export const PROFILE_OPTIMIZERS = ['sgd', 'newton'] as const;

/** The validated options of `newton-cnn profile`. */
export interface ProfileArgs {
  model: (typeof PROFILE_MODELS)[number];
  optimizer: (typeof PROFILE_OPTIMIZERS)[number];
  /** SGD steps, or Newton iterations. */
  steps: number;
  /** Mini-batch size (SGD) and subsample size |S| (Newton). */
  batch: number;
  device: string;
  threads?: number;
  /** The Chrome trace to this file (absolute). */
  trace?: string;
}

export function profileUsage(): string {
  return [
    'Usage: newton-cnn profile [options]',
    '',
    'Runs a short training workload on synthetic data under the profiler and prints the per-op',
    'table (calls, time, % of the run, GFLOP/s and GB/s against the machine) and the phases.',
    '',
    'Options:',
    `  --model NAME        ${PROFILE_MODELS.join(' | ')} (default cnn3)`,
    `  --optimizer NAME    ${PROFILE_OPTIMIZERS.join(' | ')} (default sgd)`,
    '  --steps N           SGD steps or Newton iterations (default 5)',
    '  --batch N           mini-batch size, and |S| for Newton (default 128)',
    '  --device NAME       cpu or cuda (default cpu)',
    '  --threads N         CPU threads',
    '  --trace FILE        also write the Chrome trace (Perfetto, chrome://tracing)',
    '  -h, --help          show help',
  ].join('\n');
}

function positive(flag: string, text: string | undefined, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`${flag} must be an integer from 1 to ${max}, got '${text}'`);
  return n;
}

function pick<T extends string>(flag: string, text: string | undefined, choices: readonly T[], fallback: T): T {
  if (text === undefined) return fallback;
  if (!(choices as readonly string[]).includes(text)) throw new UsageError(`${flag} must be one of ${choices.join(', ')}, got '${text}'`);
  return text as T;
}

/** Parses the arguments after `profile`; null for --help. @throws UsageError naming the option. */
export function parseProfileArgs(argv: readonly string[], cwd = process.cwd()): ProfileArgs | null {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        model: { type: 'string' },
        optimizer: { type: 'string' },
        steps: { type: 'string' },
        batch: { type: 'string' },
        device: { type: 'string' },
        threads: { type: 'string' },
        trace: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new UsageError(`profile: ${(e as Error).message}`);
  }
  if (values.help === true) return null;
  const str = (k: string): string | undefined => values[k] as string | undefined;
  const device = str('device') ?? 'cpu';
  if (!/^(cpu|cuda(:\d+)?)$/.test(device)) throw new UsageError(`--device must be cpu or cuda, got '${device}'`);
  const threads = str('threads');
  const trace = str('trace');
  return {
    model: pick('--model', str('model'), PROFILE_MODELS, 'cnn3'),
    optimizer: pick('--optimizer', str('optimizer'), PROFILE_OPTIMIZERS, 'sgd'),
    steps: positive('--steps', str('steps'), 5, 100000),
    batch: positive('--batch', str('batch'), 128, 1 << 16),
    device,
    ...(threads !== undefined ? { threads: positive('--threads', threads, 1, 256) } : {}),
    ...(trace !== undefined ? { trace: outputFile('--trace', trace, cwd) } : {}),
  };
}
