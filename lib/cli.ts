#!/usr/bin/env node
/**
 * The `newton-cnn` command: `newton-cnn train [options]`, `newton-cnn predict|evaluate|export
 * --model FILE …`, `newton-cnn spectrum [options]`, `newton-cnn condition [options]`,
 * `newton-cnn info`, `--help`, `--version`.
 *
 * Streams: results (header, epoch lines, `test accuracy: …` and the other final lines, or the
 * --json object) go to stdout; progress, notices and errors go to stderr.
 * Exit codes: 0 done, 1 error, 2 bad usage, 3 diverged (a loss, the objective or θ became
 * non-finite: training stops at once and the last checkpoint is kept), 130 interrupted (Ctrl-C:
 * the first stops after the current batch and writes a checkpoint; a second exits at once, leaving
 * no partial file); SIGTERM and SIGHUP are handled as Ctrl-C, with exit codes 143 and 129.
 *
 * @packageDocumentation
 */
import { abandonCheckpointWrites } from './checkpoint';
import { mainUsage, parseInfoArgs, parseTrainArgs, trainUsage, UsageError } from './cli/args';
import { runCondition } from './cli/commands/condition';
import { runInfo } from './cli/commands/info';
import { runPlot } from './cli/commands/plot';
import { parsePlotArgs, plotUsage } from './cli/plot-args';
import { closest } from './cli/suggest';
import { runEvaluate, runExport, runPredict } from './cli/commands/model';
import { runSpectrum } from './cli/commands/spectrum';
import { runProfile, withProfile } from './cli/commands/profile';
import { parseProfileArgs, profileUsage } from './cli/profile-args';
import { DivergedRun, runTrain } from './cli/commands/train';
import { EXIT, SIGNAL_EXIT, type CliIo } from './cli/io';
import { conditionUsage, parseConditionArgs } from './cli/condition-args';
import { evaluateUsage, exportUsage, parseEvaluateArgs, parseExportArgs, parsePredictArgs, predictUsage } from './cli/model-args';
import { parseSpectrumArgs, spectrumUsage } from './cli/spectrum-args';
import { info } from './runtime';
import { DivergenceError } from './train/divergence';

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

// The terminal width help is wrapped to (undefined: not a terminal, 80 columns).
function columnsOf(io: CliIo): number | undefined {
  const c = (io.stdout as { columns?: unknown }).columns;
  return typeof c === 'number' && io.stdout.isTTY === true ? c : undefined;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Parses `argv` and runs the command, or prints its usage for --help. */
async function runCommand<A>(
  parse: (argv: readonly string[], cwd?: string) => A | null,
  usage: () => string,
  run: (args: A, io: CliIo) => Promise<number>,
  argv: readonly string[],
  io: CliIo,
): Promise<number> {
  const args = parse(argv, io.cwd);
  if (args === null) {
    io.stdout.write(`${usage()}\n`);
    return EXIT.ok;
  }
  return run(args, io);
}

/**
 * Runs the CLI with `argv` (the arguments after the program name) and returns the exit code.
 * Never calls process.exit; prints to io.stdout / io.stderr.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      if (command === 'help' && rest[0] === 'train') io.stdout.write(`${trainUsage(columnsOf(io))}\n`);
      else if (command === 'help' && rest[0] === 'plot') io.stdout.write(`${plotUsage()}\n`);
      else if (command === 'help' && rest[0] === 'spectrum') io.stdout.write(`${spectrumUsage()}\n`);
      else if (command === 'help' && rest[0] === 'condition') io.stdout.write(`${conditionUsage()}\n`);
      else if (command === 'help' && rest[0] === 'profile') io.stdout.write(`${profileUsage()}\n`);
      else if (command === 'help' && rest[0] === 'predict') io.stdout.write(`${predictUsage()}\n`);
      else if (command === 'help' && rest[0] === 'evaluate') io.stdout.write(`${evaluateUsage()}\n`);
      else if (command === 'help' && rest[0] === 'export') io.stdout.write(`${exportUsage()}\n`);
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
        io.stdout.write(`${trainUsage(columnsOf(io))}\n`);
        return EXIT.ok;
      }
      return (await withProfile(args.profile, io, () => runTrain(args, io))).exitCode;
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
    if (command === 'plot') return await runCommand(parsePlotArgs, plotUsage, runPlot, rest, io);
    if (command === 'profile') return await runCommand(parseProfileArgs, profileUsage, runProfile, rest, io);
    if (command === 'predict') return await runCommand(parsePredictArgs, predictUsage, runPredict, rest, io);
    if (command === 'evaluate') return await runCommand(parseEvaluateArgs, evaluateUsage, runEvaluate, rest, io);
    if (command === 'export') return await runCommand(parseExportArgs, exportUsage, runExport, rest, io);
    if (command === 'info') {
      const a = parseInfoArgs(rest);
      if (a.help) {
        io.stdout.write('Usage: newton-cnn info [--json]\n\nPrints the version, the devices, the BLAS in use and the threads.\n');
        return EXIT.ok;
      }
      return runInfo(io, a.json);
    }
    const commands = ['train', 'predict', 'evaluate', 'export', 'info', 'spectrum', 'condition', 'plot'];
    const guess = closest(command, commands);
    throw new UsageError(
      command.startsWith('-')
        ? `unknown option '${command}'`
        : `unknown command '${command}'${guess !== undefined ? `; did you mean ${guess}?` : ''} (commands: ${commands.join(', ')})`,
    );
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`newton-cnn: ${e.message}\n`);
      const known = ['train', 'spectrum', 'condition', 'predict', 'evaluate', 'export', 'plot'];
      io.stderr.write(`Run 'newton-cnn ${command !== undefined && known.includes(command) ? `${command} ` : ''}--help' for usage.\n`);
      return EXIT.usage;
    }
    if (e instanceof DivergedRun || e instanceof DivergenceError) {
      io.stderr.write(`newton-cnn: ${message(e)}\n`); // 'trainSgd: diverged: …' / 'trainNewton: diverged: …'
      if (e instanceof DivergedRun) io.stderr.write(`newton-cnn: ${e.note}\n`);
      return EXIT.diverged;
    }
    io.stderr.write(`newton-cnn: error: ${message(e)}\n`);
    if (process.env.NEWTON_CNN_DEBUG && e instanceof Error && e.stack) io.stderr.write(`${e.stack}\n`);
    return EXIT.error;
  }
}

/**
 * The process entry point: wires Ctrl-C, SIGTERM and SIGHUP (the first: interrupt training
 * gracefully — finish the batch, write a checkpoint, exit 130 / 143 / 129; a second of any of them:
 * remove any half-written temporary checkpoint and exit at once with its code) and sets the exit
 * code. Commands other than `train` keep the default signal actions: `spectrum` computes
 * synchronously (its products never yield to the event loop, where a handler would run) and
 * writes its files atomically, so a signal ends it at once.
 */
export async function run(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] !== 'train') {
    process.exitCode = await main(argv, { stdout: process.stdout, stderr: process.stderr });
    return;
  }
  const controller = new AbortController();
  let first: keyof typeof SIGNAL_EXIT | undefined;
  // After a hang-up the terminal is gone: writing to it fails (EIO), which must not end the run
  // before its checkpoint is written.
  const ignore = (): void => undefined;
  const say = (text: string): void => {
    try {
      process.stderr.write(text);
    } catch {
      // the terminal is gone
    }
  };
  const onSignal = (signal: keyof typeof SIGNAL_EXIT): void => {
    if (signal === 'SIGHUP') {
      process.stdout.on('error', ignore);
      process.stderr.on('error', ignore);
    }
    if (first === undefined) {
      first = signal;
      say(
        signal === 'SIGINT'
          ? '\nnewton-cnn: interrupted: finishing the current batch and writing a checkpoint (Ctrl-C again to quit at once)\n'
          : `\nnewton-cnn: interrupted by ${signal}: finishing the current batch and writing a checkpoint (a second signal quits at once)\n`,
      );
      controller.abort();
      return;
    }
    // Waits only for a file operation already running (milliseconds), so that no temporary
    // file outlives the exit; the previous checkpoint stays whole.
    void abandonCheckpointWrites().finally(() => {
      say('newton-cnn: quit without writing a checkpoint\n');
      process.exit(SIGNAL_EXIT[signal]);
    });
  };
  const handlers = (Object.keys(SIGNAL_EXIT) as Array<keyof typeof SIGNAL_EXIT>).map((signal) => [signal, (): void => onSignal(signal)] as const);
  for (const [signal, f] of handlers) process.on(signal, f);
  try {
    const code = await main(argv, { stdout: process.stdout, stderr: process.stderr, signal: controller.signal });
    // an interrupted run reports the signal that interrupted it (128 + n)
    process.exitCode = code === EXIT.interrupted && first !== undefined ? SIGNAL_EXIT[first] : code;
  } finally {
    for (const [signal, f] of handlers) process.removeListener(signal, f);
  }
}

if (require.main === module) {
  void run();
}
