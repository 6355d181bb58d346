/**
 * Data parallelism across processes: a communicator over MPI (native/core/comm.h), started by
 * `mpirun`. Every rank runs the same program on its share of each mini-batch; gradients and the
 * scalars of a step are summed over the ranks, so the ranks take identical steps.
 *
 * ```ts
 * // mpirun -np 2 node train.js
 * const dist = initDistributed('mpi');
 * await trainSgd(model, train, { epochs: 10, loss: crossEntropyLoss, distributed: dist });
 * if (dist.rank === 0) await new Model(model).save('model.ncnn');
 * ```
 *
 * @packageDocumentation
 */
import { native } from './native';
import { handleOf, type Tensor } from './tensor';

/** Backends of {@link initDistributed}. */
export type DistributedBackend = 'mpi';

/** The communicator of a data-parallel job. */
export interface Distributed {
  readonly backend: DistributedBackend;
  /** This process's index in [0, size). */
  readonly rank: number;
  /** Processes in the job. */
  readonly size: number;
  /** Index among the processes of this host (the GPU a rank takes). */
  readonly localRank: number;
  /** Processes on this host. */
  readonly localSize: number;
  /** The library, e.g. "Open MPI 4.1.4". */
  readonly library: string;
  /** Sums a CPU tensor over the ranks, in place. */
  allReduceSum(t: Tensor): void;
  /** Sums numbers over the ranks, in place (losses, counts). */
  allReduceScalars(values: Float64Array): void;
  /** Copies rank `root`'s tensor into every rank's (same shape and dtype), in place. */
  broadcast(t: Tensor, root?: number): void;
  /** Waits for every rank. */
  barrier(): void;
}

/** The default of {@link InitDistributedOptions.timeoutSeconds}. */
export const DEFAULT_COLLECTIVE_TIMEOUT_SECONDS = 300;

/** Options of {@link initDistributed}. */
export interface InitDistributedOptions {
  /**
   * A collective that waits longer than this for the other ranks (one died or hangs) ends the
   * whole job with a message naming the rank (default 300 s).
   */
  timeoutSeconds?: number;
}

/** Whether this build can run data-parallel jobs, and with what (or why not). */
export function distributedInfo(): { mpi: { library: string } | { library: null; reason: string } } {
  return { mpi: native().mpiInfo() };
}

/**
 * Joins the job this process was started in (`mpirun -np N …`; alone, a job of one).
 * @throws Error when the build has no MPI (naming the package to install) or MPI fails to start;
 *   RangeError for a bad timeout.
 */
export function initDistributed(backend: DistributedBackend = 'mpi', options: InitDistributedOptions = {}): Distributed {
  const fn = 'initDistributed';
  if (backend !== 'mpi') throw new RangeError(`${fn}: backend must be 'mpi', got ${JSON.stringify(backend) ?? String(backend)}`);
  const timeout = options.timeoutSeconds ?? DEFAULT_COLLECTIVE_TIMEOUT_SECONDS;
  if (typeof timeout !== 'number' || !(timeout > 0) || !Number.isFinite(timeout)) {
    throw new RangeError(`${fn}: options.timeoutSeconds must be a positive number of seconds, got ${String(timeout)}`);
  }
  const info = native().mpiInfo();
  if (info.library === null) throw new Error(`${fn}: ${info.reason}`);
  // A process started without mpirun is a job of one; Open MPI would still look for ssh to start
  // its helper daemon (and abort the process where there is none), unless told the job stays here.
  const launched = ['OMPI_COMM_WORLD_SIZE', 'PMI_RANK', 'PMIX_RANK'].some((v) => process.env[v] !== undefined);
  if (!launched && process.env.OMPI_MCA_plm === undefined) process.env.OMPI_MCA_plm = 'isolated';
  const n = native();
  const job = n.mpiInit(timeout);
  return Object.freeze({
    backend,
    rank: job.rank,
    size: job.size,
    localRank: job.localRank,
    localSize: job.localSize,
    library: job.library,
    allReduceSum(t: Tensor): void {
      n.commAllReduceSum(handleOf(t, 'allReduceSum', 't'));
    },
    allReduceScalars(values: Float64Array): void {
      if (!(values instanceof Float64Array)) throw new TypeError('allReduceScalars: values must be a Float64Array');
      n.commAllReduceSumArray(values);
    },
    broadcast(t: Tensor, root = 0): void {
      if (!Number.isInteger(root) || root < 0 || root >= job.size) throw new RangeError(`broadcast: root must be a rank in [0, ${job.size}), got ${root}`);
      n.commBroadcast(handleOf(t, 'broadcast', 't'), root);
    },
    barrier(): void {
      n.commBarrier();
    },
  });
}

/**
 * Checks that `dist` is a Distributed of initDistributed() whose backend sums tensors of
 * `device`, and returns it.
 * @throws TypeError naming `fn` and `name` for anything else; RangeError for a network on a
 *   device the backend cannot sum (CUDA tensors need NCCL).
 */
export function checkDistributed(fn: string, name: string, dist: unknown, device: string): Distributed {
  const d = dist as Partial<Distributed> | null;
  if (d === null || typeof d !== 'object' || typeof d.allReduceSum !== 'function' || typeof d.allReduceScalars !== 'function' || !Number.isInteger(d.size) || !Number.isInteger(d.rank)) {
    throw new TypeError(`${fn}: ${name} must be the Distributed of initDistributed(), got ${d === null ? 'null' : typeof d}`);
  }
  if (d.backend === 'mpi' && device !== 'cpu' && d.size! > 1) {
    throw new RangeError(`${fn}: ${name}: the MPI backend sums CPU tensors; a network on ${device} needs the NCCL backend`);
  }
  return d as Distributed;
}
