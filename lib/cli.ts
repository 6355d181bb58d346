#!/usr/bin/env node
/**
 * The `newton-cnn` command: `newton-cnn train [options]`, `newton-cnn spectrum [options]`,
 * `newton-cnn condition [options]`, `newton-cnn info`, `--help`, `--version`.
 *
 * Streams: results (header, epoch lines, `test accuracy: …` and the other final lines, or the
 * --json object) go to stdout; progress, notices and errors go to stderr.
 * Exit codes: 0 done, 1 error, 2 bad usage, 130 interrupted (Ctrl-C: the first stops after the
 * current batch and writes a checkpoint; a second exits at once, leaving no partial file).
 *
 * @packageDocumentation
 */
import { abandonCheckpointWrites } from './checkpoint';
import { mainUsage, parseInfoArgs, parseTrainArgs, trainUsage, UsageError } from './cli/args';
import { runCondition } from './cli/commands/condition';
import { runInfo } from './cli/commands/info';
import { runSpectrum } from './cli/commands/spectrum';
import { runTrain } from './cli/commands/train';
import { EXIT, type CliIo } from './cli/io';
import { conditionUsage, parseConditionArgs } from './cli/condition-args';
import { parseSpectrumArgs, spectrumUsage } from './cli/spectrum-args';
import { info } from './runtime';

export { UsageError } from './cli/args';
export type { CliIo } from './cli/io';

function version(): string {
  try {
    return info().version;
  } catch {
    // the addon failed to load: report the package version another way
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('../../package.json') as { version: string }).version;
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs the CLI with `argv` (the arguments after the program name) and returns the exit code.
 * Never calls process.exit; prints to io.stdout / io.stderr.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      if (command === 'help' && rest[0] === 'train') io.stdout.write(`${trainUsage()}\n`);
      else if (command === 'help' && rest[0] === 'spectrum') io.stdout.write(`${spectrumUsage()}\n`);
      else if (command === 'help' && rest[0] === 'condition') io.stdout.write(`${conditionUsage()}\n`);
      else io.stdout.write(`${mainUsage()}\n`);
      return command === undefined ? EXIT.usage : EXIT.ok;
    }
    if (command === '--version' || command === '-V') {
      io.stdout.write(`${version()}\n`);
      return EXIT.ok;
    }
    if (command === 'train') {
      const args = parseTrainArgs(rest, io.cwd);
      if (args === null) {
        io.stdout.write(`${trainUsage()}\n`);
        return EXIT.ok;
      }
      return (await runTrain(args, io)).exitCode;
    }
    if (command === 'spectrum') {
      const args = parseSpectrumArgs(rest, io.cwd);
      if (args === null) {
        io.stdout.write(`${spectrumUsage()}\n`);
        return EXIT.ok;
      }
      return (await runSpectrum(args, io)).exitCode;
    }
    if (command === 'condition') {
      const args = parseConditionArgs(rest, io.cwd);
      if (args === null) {
        io.stdout.write(`${conditionUsage()}\n`);
        return EXIT.ok;
      }
      return await runCondition(args, io);
    }
    if (command === 'info') {
      const a = parseInfoArgs(rest);
      if (a.help) {
        io.stdout.write('Usage: newton-cnn info [--json]\n\nPrints the version, the devices, the BLAS in use and the threads.\n');
        return EXIT.ok;
      }
      return runInfo(io, a.json);
    }
    throw new UsageError(command.startsWith('-') ? `unknown option '${command}'` : `unknown command '${command}' (commands: train, info, spectrum, condition)`);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`newton-cnn: ${e.message}\n`);
      io.stderr.write(`Run 'newton-cnn ${command === 'train' || command === 'spectrum' ? `${command} ` : ''}--help' for usage.\n`);
      return EXIT.usage;
    }
    io.stderr.write(`newton-cnn: error: ${message(e)}\n`);
    if (process.env.NEWTON_CNN_DEBUG && e instanceof Error && e.stack) io.stderr.write(`${e.stack}\n`);
    return EXIT.error;
  }
}

/**
 * The process entry point: wires Ctrl-C (first: interrupt training gracefully; second: remove
 * any half-written temporary checkpoint and exit 130 at once) and sets the exit code. Commands
 * other than `train` keep the default SIGINT action: `spectrum` computes synchronously (its
 * products never yield to the event loop, where a handler would run) and writes its files
 * atomically, so Ctrl-C ends it at once.
 */
export async function run(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] !== 'train') {
    process.exitCode = await main(argv, { stdout: process.stdout, stderr: process.stderr });
    return;
  }
  const controller = new AbortController();
  let presses = 0;
  const onSigint = (): void => {
    presses++;
    if (presses === 1) {
      process.stderr.write('\nnewton-cnn: interrupted: finishing the current batch and writing a checkpoint (Ctrl-C again to quit at once)\n');
      controller.abort();
      return;
    }
    // Waits only for a file operation already running (milliseconds), so that no temporary
    // file outlives the exit; the previous checkpoint stays whole.
    void abandonCheckpointWrites().finally(() => {
      process.stderr.write('newton-cnn: quit without writing a checkpoint\n');
      process.exit(EXIT.interrupted);
    });
  };
  process.on('SIGINT', onSigint);
  try {
    process.exitCode = await main(argv, { stdout: process.stdout, stderr: process.stderr, signal: controller.signal });
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

if (require.main === module) {
  void run();
}
