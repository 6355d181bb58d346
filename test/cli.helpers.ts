// Helpers of the CLI tests: a fake stdout/stderr pair recording what main() prints.
import type { CliIo } from '../lib/cli/io';

/** A recording stream. */
export class Capture {
  text = '';
  isTTY = false;
  columns = 80;
  private listeners: Array<(chunk: string) => void> = [];
  write(chunk: string): boolean {
    this.text += chunk;
    for (const f of this.listeners) f(chunk);
    return true;
  }
  /** Calls f on every later write. */
  onWrite(f: (chunk: string) => void): void {
    this.listeners.push(f);
  }
}

/** A fake io for main(): captured stdout/stderr, an AbortController standing in for Ctrl-C. */
export function fakeIo(cwd: string): { io: CliIo; out: Capture; err: Capture; interrupt: AbortController } {
  const out = new Capture();
  const err = new Capture();
  const interrupt = new AbortController();
  return { io: { stdout: out, stderr: err, signal: interrupt.signal, cwd }, out, err, interrupt };
}

/** Arguments for a fast SGD run: the first 256 bundled images, batches of 64 (4 per epoch). */
export const TINY = ['--optimizer', 'sgd', '--train-limit', '256', '--test-limit', '128', '--batch-size', '64'];

/** Arguments for a fast Newton run: the first 256 bundled images, |S| = 26, CG at most 10 steps. */
export const NEWTON_TINY = ['--train-limit', '256', '--test-limit', '128', '--sampling-rate', '0.1', '--cg-max', '10'];
