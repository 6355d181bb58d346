/**
 * Early stopping on a validation metric: remembers the best value and when it was seen, and says
 * when it has not improved for `patience` evaluations. Used by `newton-cnn train --early-stop N`
 * (with the accuracy on the --validation split), usable from any trainer's callbacks.
 *
 * @example
 * const stop = new EarlyStopping(5);
 * onEpoch: (s) => { if (stop.observe(validationAccuracy(), s.epoch + 1)) controller.abort(); }
 *
 * @packageDocumentation
 */

/** Tracks a validation metric (higher is better) and decides when to stop. */
export class EarlyStopping {
  /** The best value seen (−Infinity before the first). */
  best = -Infinity;
  /** Where the best was seen (the `at` given with it; undefined before the first). */
  bestAt: number | undefined;
  /** Evaluations since the best. */
  since = 0;
  /** Whether observe() has said to stop. */
  stopped = false;

  /** @param patience stop after this many evaluations without improvement (a positive integer) */
  constructor(readonly patience: number) {
    if (!Number.isSafeInteger(patience) || patience < 1) throw new RangeError(`EarlyStopping: patience must be a positive integer, got ${String(patience)}`);
  }

  /**
   * Records one evaluation (`value` at epoch / iteration `at`); returns true when the value has not
   * improved on the best for `patience` evaluations in a row. A NaN never improves.
   */
  observe(value: number, at: number): boolean {
    if (value > this.best) {
      this.best = value;
      this.bestAt = at;
      this.since = 0;
    } else {
      this.since++;
    }
    if (this.since >= this.patience) this.stopped = true;
    return this.stopped;
  }
}
