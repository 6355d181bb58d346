/**
 * Training progress display for the command line, for every optimizer: SGD epochs
 * ({@link Progress.update}, after each mini-batch) and Newton iterations ({@link Progress.newton},
 * during the gradient pass, the CG steps and the line search), both with a rate and an ETA.
 *
 * On a terminal: one line, redrawn in place with `\r`, holding a bar, the percentage of the
 * epoch, images/s, the ETA of the whole run and the last batch loss; it is throttled (at most
 * ~10 redraws a second), cut to the terminal's width, and erased before any other line is
 * printed ({@link Progress.clear}) and at the end. Elsewhere (a pipe, a log file, CI): a plain
 * line at most every `plainEvery` of an epoch (default 10%), so logs stay short.
 *
 * The CLI draws progress on stderr and prints results on stdout.
 *
 * @packageDocumentation
 */

/** One report during a Newton iteration (lib/train's NewtonProgress). */
export interface NewtonProgressUpdate {
  /** The iteration in progress, 1-based. */
  iteration: number;
  /** Iterations of the run. */
  iterations: number;
  /** What the iteration is doing. */
  phase: 'gradient' | 'cg' | 'line-search' | 'evaluation';
  /** Work done in the phase (mini-batches, CG steps). */
  step: number;
  /** The phase's size (mini-batches per pass, CGmax). */
  steps: number;
  /** Line search: the trial α. */
  stepSize?: number;
  /** f at the start of the iteration, once known. */
  objective?: number;
  /** Seconds into this iteration. */
  iterationElapsed: number;
  /** Mean seconds per completed iteration of this run (NaN before the first). */
  secondsPerIteration: number;
}

/** The part of a stream the progress display needs (process.stderr fits). */
export interface ProgressStream {
  write(chunk: string): unknown;
  /** True on a terminal. */
  isTTY?: boolean;
  /** Terminal width in characters (TTY only). */
  columns?: number;
}

/** One progress report (a subset of lib/train's SgdProgress). */
export interface ProgressUpdate {
  /** Epoch in progress, 0-based. */
  epoch: number;
  /** Epochs of the run. */
  epochs: number;
  /** Batches done in this epoch. */
  batch: number;
  /** Batches per epoch. */
  batches: number;
  /** Mean loss of the last batch. */
  loss: number;
  /** Training images per second. */
  imagesPerSecond: number;
  /** Optimizer steps so far. */
  iteration?: number;
}

/** Options of Progress. */
export interface ProgressOptions {
  /** Draw the redrawn bar (default: stream.isTTY === true). */
  tty?: boolean;
  /** Plain mode: print at most every this fraction of an epoch (default 0.1). */
  plainEvery?: number;
  /** Bar width in characters (default 24). */
  barWidth?: number;
  /** Minimum milliseconds between redraws on a terminal (default 100). */
  redrawMs?: number;
  /** Mini-batch size (to turn images/s into an ETA; default 128). */
  batchSize?: number;
  /** Total optimizer steps of the run when it is limited by iterations rather than epochs. */
  totalSteps?: number;
  /** Clock in milliseconds (default performance.now). */
  now?: () => number;
  /** Plain mode, Newton: at most one line every this many milliseconds (default 10000), at a phase change. */
  plainEveryMs?: number;
}

/** The widest a progress line gets, even on a wider terminal (a line that fits 80 columns reads everywhere). */
export const MAX_PROGRESS_WIDTH = 80;

/** Formats seconds as 1h02m03s, 4m05s or 6s. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m${String(r).padStart(2, '0')}s`;
  if (m > 0) return `${m}m${String(r).padStart(2, '0')}s`;
  return `${r}s`;
}

function formatLoss(loss: number): string {
  return Number.isFinite(loss) ? loss.toFixed(4) : String(loss);
}

/** A progress display: a redrawn bar on a terminal, occasional plain lines elsewhere. */
export class Progress {
  /** Whether the redrawn bar is used. */
  readonly tty: boolean;
  private readonly stream: ProgressStream;
  private readonly plainEvery: number;
  private readonly barWidth: number;
  private readonly redrawMs: number;
  private readonly batchSize: number;
  private readonly totalSteps: number | undefined;
  private readonly now: () => number;
  private drawn = false;
  private lastDraw = -Infinity;
  private lastPlain = -1;
  private lastEpoch = -1;
  private readonly plainEveryMs: number;
  private lastPlainMs = -Infinity;
  private lastPhase = '';

  /** @param stream where to draw (the CLI uses process.stderr) */
  constructor(stream: ProgressStream, options: ProgressOptions = {}) {
    this.stream = stream;
    this.tty = options.tty ?? stream.isTTY === true;
    this.plainEvery = options.plainEvery ?? 0.1;
    this.barWidth = options.barWidth ?? 24;
    this.redrawMs = options.redrawMs ?? 100;
    this.batchSize = options.batchSize ?? 128;
    this.totalSteps = options.totalSteps;
    this.now = options.now ?? (() => performance.now());
    this.plainEveryMs = options.plainEveryMs ?? 10000;
    // plain Newton lines start plainEveryMs in: a run of quick iterations prints only its iteration lines
    this.lastPlainMs = this.now();
  }

  /**
   * Seconds left in a Newton run: the iterations not yet done at the mean time per iteration, less
   * the time already spent in this one (NaN until an iteration has completed).
   */
  newtonEta(p: NewtonProgressUpdate): number {
    const per = p.secondsPerIteration;
    if (!(per > 0)) return NaN;
    return Math.max(0, (p.iterations - p.iteration + 1) * per - p.iterationElapsed);
  }

  /** Reports a step of a Newton iteration (redrawn on a terminal; a plain line at phase changes, throttled, elsewhere). */
  newton(p: NewtonProgressUpdate): void {
    const t = this.now();
    if (this.tty) {
      if (t - this.lastDraw < this.redrawMs && p.phase === this.lastPhase) return;
      this.lastDraw = t;
      this.lastPhase = p.phase;
      this.stream.write(`\r${this.fit(this.newtonLine(p))}\x1b[K`);
      this.drawn = true;
      return;
    }
    // plain: at a phase change, at most every plainEveryMs, so a pipe gets a line every ~10 s of a slow iteration
    const changed = p.phase !== this.lastPhase;
    this.lastPhase = p.phase;
    if (!changed || t - this.lastPlainMs < this.plainEveryMs) return;
    this.lastPlainMs = t;
    this.stream.write(`${this.newtonLine(p)}\n`);
  }

  /**
   * The Newton line, e.g. `iter 3/20 [#######-----] CG 45/250  9.1s/it  ETA 2m41s  f 0.2346`: the
   * run's progress (done iterations plus the estimated part of this one), the phase and its
   * step, the rate and the ETA; at most 80 columns.
   */
  newtonLine(p: NewtonProgressUpdate): string {
    const per = p.secondsPerIteration;
    const within = per > 0 ? Math.min(0.99, p.iterationElapsed / per) : 0;
    const fraction = p.iterations > 0 ? Math.min(1, (p.iteration - 1 + within) / p.iterations) : 0;
    const width = Math.min(this.barWidth, 16);
    const fill = Math.round(fraction * width);
    const bar = `[${'#'.repeat(fill)}${'-'.repeat(width - fill)}]`;
    const phase =
      p.phase === 'gradient'
        ? `grad ${p.step}/${p.steps}`
        : p.phase === 'cg'
          ? `CG ${p.step}/${p.steps}`
          : p.phase === 'line-search'
            ? `search α=${p.stepSize === undefined ? '?' : +p.stepSize.toPrecision(3)} ${p.step}/${p.steps}`
            : 'test eval';
    const rate = per > 0 ? `${per < 10 ? per.toFixed(1) : Math.round(per)}s/it` : `${formatDuration(p.iterationElapsed)} in it`;
    const parts = [`iter ${p.iteration}/${p.iterations} ${bar} ${phase}`, rate, `ETA ${formatDuration(this.newtonEta(p))}`];
    if (p.objective !== undefined) parts.push(`f ${formatLoss(p.objective)}`);
    return fitParts(parts, MAX_PROGRESS_WIDTH - 1);
  }

  /** Seconds left in the run at the current rate (excluding evaluations). */
  eta(p: ProgressUpdate): number {
    const done = p.epoch * p.batches + p.batch;
    const total = this.totalSteps ?? p.epochs * p.batches;
    const rate = p.imagesPerSecond / this.batchSize; // batches per second (last batch may be partial)
    return rate > 0 ? Math.max(0, total - done) / rate : NaN;
  }

  /** Reports one batch. */
  update(p: ProgressUpdate): void {
    const t = this.now();
    if (this.tty) {
      if (p.batch < p.batches && t - this.lastDraw < this.redrawMs) return;
      this.lastDraw = t;
      this.stream.write(`\r${this.fit(this.barLine(p))}\x1b[K`);
      this.drawn = true;
      return;
    }
    if (p.epoch !== this.lastEpoch) {
      this.lastEpoch = p.epoch;
      this.lastPlain = 0;
    }
    const fraction = p.batch / p.batches;
    const step = Math.max(this.plainEvery, 1 / p.batches);
    if (p.batch < p.batches && fraction - this.lastPlain < step - 1e-12) return;
    this.lastPlain = fraction;
    this.stream.write(`${this.plainLine(p)}\n`);
  }

  /** Erases the bar (before printing another line, and at the end). No-op in plain mode. */
  clear(): void {
    if (this.drawn) {
      this.stream.write('\r\x1b[K');
      this.drawn = false;
      this.lastDraw = -Infinity;
    }
  }

  /** The redrawn line, e.g. `epoch 2/15 [#######-----]  58%  812 img/s  ETA 1m23s  loss 0.4321`. */
  barLine(p: ProgressUpdate): string {
    const fraction = p.batches > 0 ? Math.min(1, p.batch / p.batches) : 0;
    const fill = Math.round(fraction * this.barWidth);
    const bar = `[${'#'.repeat(fill)}${'-'.repeat(this.barWidth - fill)}]`;
    const pct = `${Math.floor(fraction * 100)}%`.padStart(4);
    return `epoch ${p.epoch + 1}/${p.epochs} ${bar} ${pct}  ${Math.round(p.imagesPerSecond)} img/s  ETA ${formatDuration(this.eta(p))}  loss ${formatLoss(p.loss)}`;
  }

  /** The plain line, e.g. `epoch 2/15  batch 8/79 (10%)  loss 0.4321  812 img/s  ETA 1m23s`. */
  plainLine(p: ProgressUpdate): string {
    const pct = Math.floor((100 * p.batch) / p.batches);
    return `epoch ${p.epoch + 1}/${p.epochs}  batch ${p.batch}/${p.batches} (${pct}%)  loss ${formatLoss(p.loss)}  ${Math.round(p.imagesPerSecond)} img/s  ETA ${formatDuration(this.eta(p))}`;
  }

  private fit(line: string): string {
    const cols = this.stream.columns;
    return cols !== undefined && cols > 1 && line.length >= cols ? line.slice(0, cols - 1) : line;
  }
}

/** Joins `parts` with two spaces, dropping parts from the end until the line fits `width`. */
export function fitParts(parts: readonly string[], width: number): string {
  let n = parts.length;
  let line = parts.join('  ');
  while (line.length > width && n > 1) line = parts.slice(0, --n).join('  ');
  return line.length > width ? line.slice(0, width) : line;
}
