/**
 * The profiler: per-op timings of every kernel the library runs (CPU and CUDA), named
 * scopes that nest, a per-op table and a Chrome trace (Perfetto, chrome://tracing).
 *
 * ```ts
 * import { profile } from 'newton-cnn';
 * profile.start();
 * await profile.scope('epoch', async () => { ... });   // or: using s = profile.scope('epoch');
 * profile.stop();
 * console.log(profile.report().table);
 * profile.writeTrace('out.json');
 * ```
 *
 * Off (the default) it costs one branch per op in the native code and nothing here: a scope
 * is then a shared no-op object (note [profiler cost] in native/core/profile.h). The trainers
 * open scopes for their phases (sgd: data, step, gradient, update; newton: gradient, cg,
 * cg step, Gv, line search, update), so a profiled training run shows where its time goes.
 * On CUDA each op is timed by events on the stream, read when the report is made, and every
 * op and scope is also an NVTX range for Nsight Systems (when built with the NVTX headers).
 */
import { native } from './native';

/** One line of the per-op table: the kernels of one op (launched by `caller`) on one device. */
export interface ProfileOpSummary {
  name: string;
  /** The op whose call launched this kernel ('' when it is the op itself), e.g. gemm in 'linear'. */
  caller: string;
  device: string;
  calls: number;
  totalMs: number;
  meanMs: number;
  /** Percent of the session's wall time. */
  percent: number;
  /** Achieved GFLOP/s, null where the op defines no FLOP count (only conv2d's passes and gemm do). */
  gflops: number | null;
  /** Bytes of the kernels' tensor arguments per second / 1e9. */
  gbps: number;
  /** gflops as a fraction of the device's SGEMM rate (measured once per process), or null. */
  gemmFraction: number | null;
  /** gbps as a fraction of the device's copy rate (measured once per process). */
  copyFraction: number;
}

/** A scope's total over every time it was opened; `path` joins the enclosing scopes with '/'. */
export interface ProfileScopeSummary {
  path: string;
  calls: number;
  totalMs: number;
  percent: number;
}

export interface ProfileReport {
  /** The session's wall time, start to stop (to now while it runs). */
  wallMs: number;
  /** The sum of the op times. */
  opMs: number;
  /** The per-op and per-scope tables as text. */
  table: string;
  ops: ProfileOpSummary[];
  scopes: ProfileScopeSummary[];
  /** The machine's reference rates per device (empty with `rates: false`). */
  rates: { device: string; gemmGflops: number; copyGbps: number }[];
}

/** An open scope; closing it twice is harmless. */
export interface ProfileScope extends Disposable {
  close(): void;
}

let active = false;
let session = 0;

const NO_SCOPE: ProfileScope = { close() {}, [Symbol.dispose]() {} };

function openScope(name: string): ProfileScope {
  if (!active) return NO_SCOPE;
  native().profileScopePush(name);
  const opened = session;
  let open = true;
  const close = (): void => {
    // A scope opened in an earlier session (or closed already) is not popped.
    if (!open) return;
    open = false;
    if (active && opened === session) native().profileScopePop();
  };
  return { close, [Symbol.dispose]: close };
}

function isPromise(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

function checkName(fn: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(`profile.${fn}: name must be a non-empty string, got ${name === '' ? "''" : typeof name}`);
  }
}

/** Consecutive scopes of one name (each CG step): next() closes the previous and opens one. */
export interface ProfileSteps {
  next(): void;
  end(): void;
}

export const profile = {
  /** Starts a session (every op is timed from now on); throws when one runs. */
  start(): void {
    native().profileStart();
    session++;
    active = true;
  },
  /** Ends the session; its records stay for report() and writeTrace(). Throws when none runs. */
  stop(): void {
    native().profileStop();
    active = false;
  },
  /** Whether a session is running. */
  get enabled(): boolean {
    return active;
  },
  /**
   * Opens a named scope. With `fn`, runs it inside the scope and returns its result (a
   * promise's scope closes when it settles); without, returns the scope for `using` or close().
   */
  scope: function scope<T>(name: string, fn?: () => T): any {
    checkName('scope', name);
    if (fn === undefined) return openScope(name);
    if (typeof fn !== 'function') throw new TypeError(`profile.scope: fn must be a function, got ${typeof fn}`);
    if (!active) return fn();
    const s = openScope(name);
    let result: T;
    try {
      result = fn();
    } catch (e) {
      s.close();
      throw e;
    }
    if (isPromise(result)) {
      return Promise.resolve(result).finally(() => s.close());
    }
    s.close();
    return result;
  } as {
    (name: string): ProfileScope;
    <T>(name: string, fn: () => T): T;
  },
  /** Scopes of one name in a row: next() closes the current one (if any) and opens the next. */
  steps(name: string): ProfileSteps {
    checkName('steps', name);
    let current: ProfileScope = NO_SCOPE;
    return {
      next() {
        current.close();
        current = openScope(name);
      },
      end() {
        current.close();
        current = NO_SCOPE;
      },
    };
  },
  /**
   * The per-op and per-scope summary of the last (or running) session. `rates: false` skips
   * measuring the machine's SGEMM and copy rates (done once per device and process otherwise).
   */
  report(options: { rates?: boolean } = {}): ProfileReport {
    const rates = options.rates ?? true;
    if (typeof rates !== 'boolean') throw new TypeError(`profile.report: options.rates must be a boolean, got ${typeof rates}`);
    return native().profileReport(rates);
  },
  /** Writes the last (or running) session as Chrome trace-event JSON to `path`. */
  writeTrace(path: string): void {
    if (typeof path !== 'string' || path.length === 0) throw new TypeError('profile.writeTrace: path must be a non-empty string');
    native().profileWriteTrace(path);
  },
};
