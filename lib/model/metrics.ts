/**
 * Classification metrics of a model's outputs: top-k predictions with softmax probabilities,
 * and the evaluation report (accuracy, top-5, per-class accuracy, confusion matrix, loss).
 * Everything is computed in float64 from the outputs (N, K), row by row.
 *
 * @packageDocumentation
 */
import type { LossName } from '../nn';

/** One class of a prediction. */
export interface ClassScore {
  /** The class index. */
  index: number;
  /** Its name (the model's class names). */
  name: string;
  /** softmax(z)_index. */
  probability: number;
  /** The network output z_index. */
  score: number;
}

/** The evaluation of a model on a labelled data set. */
export interface Evaluation {
  /** Number of examples. */
  count: number;
  /** Fraction whose top class is the label. */
  accuracy: number;
  /** Fraction whose label is among the k highest outputs (k = min(5, classes)). */
  topKAccuracy: number;
  /** The k of topKAccuracy. */
  topK: number;
  /** Mean loss per example under the model's loss (no regularisation term). */
  loss: number;
  /** Per class c: the fraction of examples of class c classified as c (NaN when there are none). */
  perClassAccuracy: number[];
  /** Examples per class. */
  support: number[];
  /** confusion[t][p]: examples of true class t predicted as p. */
  confusion: number[][];
}

/** softmax of row `i` of `z` (N, K), in float64, stable for any finite outputs. */
export function softmaxRow(z: ArrayLike<number>, i: number, k: number): Float64Array {
  let max = -Infinity;
  for (let j = 0; j < k; j++) max = Math.max(max, z[i * k + j]);
  const p = new Float64Array(k);
  let sum = 0;
  for (let j = 0; j < k; j++) {
    p[j] = Math.exp(z[i * k + j] - max);
    sum += p[j];
  }
  for (let j = 0; j < k; j++) p[j] /= sum;
  return p;
}

/** The `topK` classes of row `i` (highest output first; ties by lower index). */
export function topClasses(z: ArrayLike<number>, i: number, k: number, topK: number, names: readonly string[]): ClassScore[] {
  const p = softmaxRow(z, i, k);
  const order = Array.from({ length: k }, (_, j) => j).sort((a, b) => z[i * k + b] - z[i * k + a] || a - b);
  return order.slice(0, Math.min(topK, k)).map((j) => ({ index: j, name: names[j], probability: p[j], score: z[i * k + j] }));
}

/** The loss of one example: squared ‖z − onehot(label)‖², or −log softmax(z)_label. */
function exampleLoss(loss: LossName, z: ArrayLike<number>, i: number, k: number, label: number): number {
  if (loss === 'squared') {
    let s = 0;
    for (let j = 0; j < k; j++) {
      const d = z[i * k + j] - (j === label ? 1 : 0);
      s += d * d;
    }
    return s;
  }
  let max = -Infinity;
  for (let j = 0; j < k; j++) max = Math.max(max, z[i * k + j]);
  let sum = 0;
  for (let j = 0; j < k; j++) sum += Math.exp(z[i * k + j] - max);
  return Math.log(sum) + max - z[i * k + label];
}

/** Accumulates an Evaluation batch by batch. */
export class EvaluationAccumulator {
  private readonly confusion: number[][];
  private count = 0;
  private topKHits = 0;
  private lossSum = 0;
  readonly topK: number;

  /** For `classes` classes under `loss`. */
  constructor(private readonly classes: number, private readonly loss: LossName) {
    this.confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
    this.topK = Math.min(5, classes);
  }

  /** Adds the outputs z (n, K) of examples with `labels` (n). */
  add(z: ArrayLike<number>, labels: Int32Array): void {
    const k = this.classes;
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i];
      let best = 0;
      let above = 0; // outputs strictly above the label's, or equal at a lower index (the order topClasses uses)
      for (let j = 0; j < k; j++) {
        const v = z[i * k + j];
        if (v > z[i * k + best]) best = j;
        if (v > z[i * k + label] || (v === z[i * k + label] && j < label)) above++;
      }
      this.confusion[label][best]++;
      if (above < this.topK) this.topKHits++;
      this.lossSum += exampleLoss(this.loss, z, i, k, label);
      this.count++;
    }
  }

  /** The report so far. */
  result(): Evaluation {
    const support = this.confusion.map((row) => row.reduce((a, b) => a + b, 0));
    const correct = this.confusion.reduce((a, row, t) => a + row[t], 0);
    const n = this.count;
    return {
      count: n,
      accuracy: n === 0 ? NaN : correct / n,
      topKAccuracy: n === 0 ? NaN : this.topKHits / n,
      topK: this.topK,
      loss: n === 0 ? NaN : this.lossSum / n,
      perClassAccuracy: this.confusion.map((row, t) => (support[t] === 0 ? NaN : row[t] / support[t])),
      support,
      confusion: this.confusion.map((row) => [...row]),
    };
  }
}
