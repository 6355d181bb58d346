// The gradient of a data-parallel SGD step summed over the ranks in buckets, started during the
// backward pass (native/core/comm_queue.h, note [collective queue]): a bucket is the contiguous
// range of θ's gradient from the lowest offset the pass has finished up to where the previous
// bucket began, started as soon as it holds at least `bucketElements` elements. The backward
// pass finishes the layers last to first and θ lays them out first to last, so the finished part
// is a suffix of the gradient and the buckets go from the end of θ to its start. The boundaries
// depend only on the network and the bucket size: every rank starts the same all-reduces in the
// same order.
import type { Distributed, PendingCollective } from '../distributed';
import type { Tensor } from '../tensor';

/** The default bucket size, in bytes (PyTorch's DistributedDataParallel's bucket_cap_mb: 25 MiB). */
export const DEFAULT_GRADIENT_BUCKET_BYTES = 25 * 2 ** 20;

export class GradientBuckets {
  private readonly pending: PendingCollective[] = [];
  private readonly views: Tensor[] = [];
  /** The finished ranges [offset, end) below `end`, not yet contiguous with it. */
  private readonly finished = new Map<number, number>();
  /** Where the gradient not yet started ends: [0, end) is what is left to sum. */
  private end: number;
  /** The lowest offset such that [low, end) is finished. */
  private low: number;

  constructor(
    private readonly dist: Distributed,
    private readonly gradient: Tensor,
    private readonly bucketElements: number,
  ) {
    this.end = gradient.size;
    this.low = gradient.size;
  }

  /** The backward pass has finished gradient[offset … offset + size): start the buckets that are full. */
  ready(offset: number, size: number): void {
    this.finished.set(offset + size, offset);
    // extend [low, end) downwards through the finished ranges that touch it
    for (let next = this.finished.get(this.low); next !== undefined; next = this.finished.get(this.low)) {
      this.finished.delete(this.low);
      this.low = next;
    }
    if (this.end - this.low >= this.bucketElements) this.start(this.low);
  }

  /** Starts what is left of the gradient and waits for every bucket: the gradient is then the job's sum. */
  finish(): void {
    if (this.end > 0) this.start(0);
    this.waitAll();
  }

  /** After a failed backward pass: waits for the buckets already started (their errors dropped), starts no more. */
  abandon(): void {
    try {
      this.waitAll();
    } catch {
      // the backward pass's error is the one to report
    }
  }

  /** Waits for every started bucket, then throws the first error. */
  private waitAll(): void {
    let first: unknown = null;
    for (const p of this.pending) {
      try {
        p.wait();
      } catch (e) {
        first ??= e;
      }
    }
    this.pending.length = 0;
    for (const v of this.views) v.dispose();
    this.views.length = 0;
    if (first !== null) throw first;
  }

  private start(from: number): void {
    const view = this.gradient.view(from, [this.end - from]);
    this.views.push(view);
    this.pending.push(this.dist.allReduceSumStart(view));
    this.end = from;
    if (this.low > from) this.low = from;
  }
}
