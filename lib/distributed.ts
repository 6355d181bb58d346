/**
 * Data parallelism across processes: a communicator over MPI (native/core/comm.h), started by
 * `mpirun`, and over NCCL for CUDA tensors. Every rank runs the same program on its share of each
 * mini-batch; gradients and the scalars of a step are summed over the ranks, so the ranks take
 * identical steps.
 *
 * ```ts
 * // mpirun -np 2 node train.js
 * const dist = initDistributed('mpi');
 * await trainSgd(model, train, { epochs: 10, loss: crossEntropyLoss, distributed: dist });
 * if (dist.rank === 0) await new Model(model).save('model.ncnn');
 * ```
 *
 * With `initDistributed('nccl')` each rank also takes one GPU of its host (`dist.device`,
 * 'cuda:' + localRank % GPUs) and CUDA tensors on it are summed and broadcast by NCCL; CPU tensors
 * and scalars still go through MPI, which also carries NCCL's start-up.
 *
 * @packageDocumentation
 */
import { native } from './native';
import { handleOf, type Tensor } from './tensor';

/**
 * Backends of {@link initDistributed}: 'mpi' (CPU tensors), 'nccl' (MPI, and NCCL for the CUDA
 * tensors of the GPU the rank takes).
 */
export type DistributedBackend = 'mpi' | 'nccl';

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
  /** The library, e.g. "Open MPI 4.1.4" ('mpi'), "NCCL 2.27.7 over Open MPI 4.1.4" ('nccl'). */
  readonly library: string;
  /**
   * Where this rank's tensors go: 'cpu' ('mpi'), or the GPU this rank took ('nccl': 'cuda:N',
   * N = localRank modulo the GPUs of the host).
   */
  readonly device: string;
  /** Sums a tensor over the ranks, in place: CPU tensors over MPI, CUDA tensors over NCCL. */
  allReduceSum(t: Tensor): void;
  /**
   * Starts summing a tensor over the ranks, in place, on a thread of its own, and returns at once
   * (the gradient buckets of a backward pass). Neither write nor read `t` until `wait()` returns;
   * every rank must start the same calls in the same order. Any other collective first waits for
   * the started ones.
   */
  allReduceSumStart(t: Tensor): PendingCollective;
  /** Sums numbers over the ranks, in place (losses, counts). */
  allReduceScalars(values: Float64Array): void;
  /** Copies rank `root`'s tensor into every rank's (same shape, dtype and kind of device), in place. */
  broadcast(t: Tensor, root?: number): void;
  /** Waits for every rank. */
  barrier(): void;
}

/** A collective started by {@link Distributed.allReduceSumStart}. */
export interface PendingCollective {
  /** Returns when the collective is done on this rank; throws its error. Call it once. */
  wait(): void;
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

/** A library this build can use, or why it cannot. */
export type LibraryInfo = { library: string } | { library: null; reason: string };

/**
 * Whether this build can run data-parallel jobs, and with what (or why not): `mpi` (CPU tensors)
 * and `nccl` (CUDA tensors; its reason says whether the CUDA library, NCCL in it, or a GPU is
 * missing).
 */
export function distributedInfo(): { mpi: LibraryInfo; nccl: LibraryInfo } {
  const n = native();
  return { mpi: n.mpiInfo(), nccl: n.ncclInfo() };
}

/**
 * Joins the job this process was started in (`mpirun -np N …`; alone, a job of one). 'nccl' starts
 * MPI, then NCCL on the GPU cuda:(localRank % GPUs) with every rank together.
 * @throws Error when the build has no MPI (naming the package to install) or MPI fails to start;
 *   for 'nccl', when NCCL cannot be used here (no CUDA library, no NCCL in it, no GPU: the reason
 *   says which) or on another rank, or fails to start; RangeError for a bad backend or timeout.
 */
export function initDistributed(backend: DistributedBackend = 'mpi', options: InitDistributedOptions = {}): Distributed {
  const fn = 'initDistributed';
  if (backend !== 'mpi' && backend !== 'nccl') {
    throw new RangeError(`${fn}: backend must be 'mpi' or 'nccl', got ${JSON.stringify(backend) ?? String(backend)}`);
  }
  const timeout = options.timeoutSeconds ?? DEFAULT_COLLECTIVE_TIMEOUT_SECONDS;
  if (typeof timeout !== 'number' || !(timeout > 0) || !Number.isFinite(timeout)) {
    throw new RangeError(`${fn}: options.timeoutSeconds must be a positive number of seconds, got ${String(timeout)}`);
  }
  const info = native().mpiInfo();
  if (info.library === null) throw new Error(`${fn}: ${info.reason}`);
  // Before MPI starts: a process that cannot use NCCL says so without joining a job. (Every rank
  // of a job usually shares this; where only some cannot, ncclInit makes every rank fail.)
  if (backend === 'nccl') {
    const nccl = native().ncclInfo();
    if (nccl.library === null) throw new Error(`${fn}: 'nccl' cannot be used here: ${nccl.reason}`);
  }
  // A process started without mpirun is a job of one; Open MPI would still look for ssh to start
  // its helper daemon (and abort the process where there is none), unless told the job stays here.
  const launched = ['OMPI_COMM_WORLD_SIZE', 'PMI_RANK', 'PMIX_RANK'].some((v) => process.env[v] !== undefined);
  if (!launched && process.env.OMPI_MCA_plm === undefined) process.env.OMPI_MCA_plm = 'isolated';
  const n = native();
  const job = n.mpiInit(timeout);
  const gpu = backend === 'nccl' ? n.ncclInit(timeout) : null;
  return Object.freeze({
    backend,
    rank: job.rank,
    size: job.size,
    localRank: job.localRank,
    localSize: job.localSize,
    library: gpu === null ? job.library : `${gpu.library} over ${job.library}`,
    device: gpu === null ? 'cpu' : gpu.device,
    allReduceSum(t: Tensor): void {
      n.commAllReduceSum(handleOf(t, 'allReduceSum', 't'));
    },
    allReduceSumStart(t: Tensor): PendingCollective {
      const ticket = n.commAllReduceSumStart(handleOf(t, 'allReduceSumStart', 't'));
      let waited = false;
      return {
        wait(): void {
          if (waited) throw new Error('allReduceSumStart: wait() was already called for this collective');
          waited = true;
          n.commWait(ticket);
        },
      };
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
  // tensors go through the communicator of this rank's device: MPI for 'cpu', NCCL for the GPU
  // initDistributed('nccl') gave this rank (d.device)
  const commDevice = d.device ?? 'cpu';
  if (d.size! > 1 && device !== commDevice) {
    const hint = d.backend === 'mpi' ? "; a network on a GPU needs initDistributed('nccl')" : '';
    throw new RangeError(`${fn}: ${name}: the network is on ${device} but this rank's ${String(d.backend)} communicator sums tensors on ${commDevice}: move the network there${hint}`);
  }
  return d as Distributed;
}
