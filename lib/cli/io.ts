/**
 * The streams and environment a CLI command writes to, replaceable in tests.
 *
 * @packageDocumentation
 */
import type { ProgressStream } from '../progress';

/** A writable text stream (process.stdout fits). */
export interface TextStream {
  write(chunk: string): unknown;
  /** True on a terminal. */
  isTTY?: boolean;
}

/** Where a command prints, and how it is cancelled. */
export interface CliIo {
  /** Results (header, epoch lines, final lines or the JSON object). */
  stdout: TextStream;
  /** Progress, notices and errors. */
  stderr: ProgressStream;
  /**
   * Aborting it interrupts training like Ctrl-C: stop after the batch, checkpoint, exit code 130
   * (which run() turns into 143 / 129 when SIGTERM / SIGHUP aborted it).
   */
  signal?: AbortSignal;
  /** Directory relative paths are resolved against (default process.cwd()). */
  cwd?: string;
}

/**
 * Exit codes of `newton-cnn`: 0 done, 1 error, 2 bad usage, 3 diverged (a loss, the objective or θ
 * became non-finite; no checkpoint was written, the last one is kept), and for a run stopped by a
 * signal (a checkpoint written, or a second signal: quit at once) the shell's 128 + n:
 * 130 interrupted (SIGINT, Ctrl-C), 143 terminated (SIGTERM), 129 hung up (SIGHUP).
 */
export const EXIT = Object.freeze({ ok: 0, error: 1, usage: 2, diverged: 3, interrupted: 130, terminated: 143, hangup: 129 });

/** The signals `newton-cnn train` handles as Ctrl-C, with their exit codes (128 + the signal number). */
export const SIGNAL_EXIT: Readonly<Record<'SIGINT' | 'SIGTERM' | 'SIGHUP', number>> = Object.freeze({
  SIGINT: EXIT.interrupted,
  SIGTERM: EXIT.terminated,
  SIGHUP: EXIT.hangup,
});
