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
  /** Aborting it interrupts training like Ctrl-C: stop after the batch, checkpoint, exit code 130. */
  signal?: AbortSignal;
  /** Directory relative paths are resolved against (default process.cwd()). */
  cwd?: string;
}

/** Exit codes of `newton-cnn`. */
export const EXIT = Object.freeze({ ok: 0, error: 1, usage: 2, interrupted: 130 });
