// Collectives between processes over MPI (native/core/comm.h, note [communicators]; the addon's
// mpiInfo, mpiInit, commAllReduceSum, commAllReduceSumArray, commBroadcast, commBarrier).
//
// Every case runs in child processes (MPI is initialised once per process and finalised at
// its exit, which jest's workers must not inherit): small scripts written to a temporary folder
// load the compiled library (dist/lib/native.js) and write what they saw to JSON files, one per
// rank; this file compares them with what the parent computes.
//   - alone (`node script`, a job of one): rank 0 of 1, all-reduce is the identity, the errors
//     (bad timeouts, calls before mpiInit, argument types, worker threads, roots);
//   - `mpirun -np 2`: rank, size, local rank and size; all-reduce of float32 and float64 tensors
//     (and of a view) equals the sum of the ranks' inputs; commAllReduceSumArray; broadcast from
//     root 1; barrier; mpiInit twice; mismatches between the ranks (float32 against float64,
//     shapes, roots, different collectives) throw the same error on every rank, naming the rank
//     at fault, and leave the job usable;
//   - a rank that works on longer than the timeout after the others are done (they wait in
//     MPI_Finalize at exit, which is not watched) is not ended;
//   - a rank that exits, is killed or hangs before an all-reduce: the other ends within the
//     timeout (mpiInit(3)) plus slack, with a non-zero status and a message naming the rank (the
//     watchdog's or mpirun's own), never hanging (each mpirun has a hard timeout).
// A build without MPI checks the Error that names the package instead; without mpirun the
// mpirun cases skip, with the reason in their titles.
//
// mpirun here: Open MPI 4.1 refuses to run as root unless told (--allow-run-as-root, or
// OMPI_ALLOW_RUN_AS_ROOT=1 with OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1), needs --oversubscribe for more
// ranks than cores, and looks for ssh even for a job on one host unless OMPI_MCA_plm=isolated
// (a singleton start, `node script` alone, too: it starts an orted the same way). Shared memory
// between the ranks copies through a buffer (btl_vader_single_copy_mechanism=none): the single
// copy through process_vm_readv works here, but containers without CAP_SYS_PTRACE forbid it.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { native } from '../lib/native';
import { ensureDist, root } from './fixtures/dist';
import { requiredInCi } from './helpers';
import { CHILD_HELPERS, mpiEnv } from './mpi';

const mpi = native().mpiInfo();
const HAVE_MPI = mpi.library !== null;
const NO_MPI = `skipped: ${mpi.library === null ? mpi.reason : ''}`;

function mpirunVersion(): string | null {
  const r = spawnSync('mpirun', ['--version'], { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 ? `${r.stdout}${r.stderr}` : null;
}
const MPIRUN = HAVE_MPI ? mpirunVersion() : null;
const OPEN_MPI = MPIRUN !== null && /Open MPI|OpenRTE/.test(MPIRUN);
const NO_MPIRUN = HAVE_MPI ? 'skipped: mpirun is not on PATH (install openmpi-bin)' : NO_MPI;

const withMpi = (title: string, fn: () => void, timeout?: number) =>
  HAVE_MPI ? test(title, fn, timeout) : test.skip(`${title} [${NO_MPI}]`, fn);
const withMpirun = (title: string, fn: () => void, timeout?: number) =>
  MPIRUN !== null ? test(title, fn, timeout) : test.skip(`${title} [${NO_MPIRUN}]`, fn);
// In CI (MPI and mpirun installed) the MPI and mpirun cases must run.
requiredInCi('the MPI and mpirun cases', MPIRUN !== null ? null : NO_MPIRUN);
const withoutMpi = (title: string, fn: () => void) =>
  HAVE_MPI ? test.skip(`${title} [skipped: this build has MPI, so the refusal cannot happen]`, fn) : test(title, fn);

// The environment of every child: as root, with one host and no ssh (see above).
const childEnv: NodeJS.ProcessEnv = { ...mpiEnv(), NEWTON_NUM_THREADS: '1' };

let dir = '';
let distNative = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'newton-distributed-'));
  if (HAVE_MPI) {
    ensureDist();
    distNative = path.join(root, 'dist', 'lib', 'native.js');
  }
}, 300_000);
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// --- child scripts ------------------------------------------------------------------------------
// Shared head of every script: argv = [distNative, outDir, ...]; `n` the addon; then
// CHILD_HELPERS (test/mpi.ts: caught, write, values).
const HEAD = `'use strict';
const fs = require('node:fs');
const path = require('node:path');
const [distNative, outDir, mode] = process.argv.slice(2);
const n = require(distNative).native();
${CHILD_HELPERS}`;

const SINGLE = `${HEAD}
const { Worker } = require('node:worker_threads');
function inWorker(code) {
  return new Promise((resolve) => {
    const w = new Worker(\`const n = require(\${JSON.stringify(distNative)}).native();
      const { parentPort } = require('node:worker_threads');
      try { \${code}; parentPort.postMessage(null); } catch (e) { parentPort.postMessage({ type: e.constructor.name, message: String(e.message) }); }\`, { eval: true });
    w.once('message', (m) => { resolve(m); w.terminate(); });
    w.once('error', (e) => resolve({ type: 'worker error', message: String(e) }));
  });
}
(async () => {
  const out = {};
  out.info = n.mpiInfo();
  out.beforeInit = [caught(() => n.commAllReduceSumArray(new Float64Array(1))), caught(() => n.commBarrier())];
  out.badTimeouts = [0, -1, NaN, Infinity].map((v) => caught(() => n.mpiInit(v)));
  out.typeTimeout = caught(() => n.mpiInit('5'));
  out.workerFirst = await inWorker('n.mpiInit(5)');
  out.job = n.mpiInit(5);
  out.again = n.mpiInit(7);
  const x32 = Float32Array.from(values(0, 37, 1));
  const t32 = n.fromTypedArray(x32, [37]);
  n.commAllReduceSum(t32);
  out.same32 = Array.from(n.toTypedArray(t32)).every((v, i) => Object.is(v, x32[i]));
  const x64 = Float64Array.from(values(0, 12, 2));
  const t64 = n.fromTypedArray(x64, [3, 4], 'float64');
  n.commAllReduceSum(t64);
  out.same64 = Array.from(n.toTypedArray(t64)).every((v, i) => Object.is(v, x64[i]));
  const a = Float64Array.from([1.5, -2, 1e300]);
  n.commAllReduceSumArray(a);
  out.array = Array.from(a);
  n.commBroadcast(t64, 0);
  out.sameBroadcast = Array.from(n.toTypedArray(t64)).every((v, i) => Object.is(v, x64[i]));
  n.commBarrier();
  out.root1 = caught(() => n.commBroadcast(t64, 1));
  out.int32 = caught(() => n.commAllReduceSum(n.zeros([3], 'int32')));
  out.typeErrors = [
    caught(() => n.commAllReduceSum(42)),
    caught(() => n.commAllReduceSumArray(new Float32Array(2))),
    caught(() => n.commAllReduceSumArray([1, 2])),
    caught(() => n.commBroadcast(t64, -1)),
    caught(() => n.commBroadcast(t64, 1.5)),
    caught(() => n.commBroadcast(t64)),
  ];
  const gone = n.zeros([2]);
  gone.dispose();
  out.disposed = caught(() => n.commAllReduceSum(gone));
  out.workerInit = await inWorker('n.mpiInit(5)');
  out.workerCollective = await inWorker('n.commBarrier()');
  const cuda = n.devices().find((d) => d.kind === 'cuda' && d.available);
  out.cuda = cuda ? caught(() => n.commAllReduceSum(n.zeros([2], 'float32', cuda.name))) : 'no CUDA device';
  write('single.json', out);
})();
`;

const MAIN = `${HEAD}
const out = {};
out.beforeInit = caught(() => n.commBarrier());
const job = n.mpiInit(20);
const r = job.rank;
out.job = job;
out.again = n.mpiInit(20);
// float32, shape [7, 11, 13]
out.in32 = Array.from(Float32Array.from(values(r, 1001, 1)));
const t32 = n.fromTypedArray(Float32Array.from(out.in32), [7, 11, 13]);
n.commAllReduceSum(t32);
out.out32 = Array.from(n.toTypedArray(t32));
out.shape32 = t32.shape;
// float64
out.in64 = values(r, 517, 2);
const t64 = n.fromTypedArray(Float64Array.from(out.in64), [11, 47], 'float64');
n.commAllReduceSum(t64);
out.out64 = Array.from(n.toTypedArray(t64));
// a view: elements [5, 13) of a 20-element tensor; the rest must stay as it was
out.inBase = values(r, 20, 3);
const base = n.fromTypedArray(Float64Array.from(out.inBase), [20], 'float64');
n.commAllReduceSum(n.view(base, 5, [2, 4]));
out.outBase = Array.from(n.toTypedArray(base));
// no elements
out.empty = caught(() => n.commAllReduceSum(n.zeros([0, 3])));
// Float64Array
out.inArray = values(r, 5, 4);
const arr = Float64Array.from(out.inArray);
n.commAllReduceSumArray(arr);
out.outArray = Array.from(arr);
// broadcast from root 1: float32 and float64; int32 from root 0
out.inB32 = Array.from(Float32Array.from(values(r, 64, 5)));
const b32 = n.fromTypedArray(Float32Array.from(out.inB32), [8, 8]);
n.commBroadcast(b32, 1);
out.outB32 = Array.from(n.toTypedArray(b32));
out.inB64 = values(r, 9, 6);
const b64 = n.fromTypedArray(Float64Array.from(out.inB64), [9], 'float64');
n.commBroadcast(b64, 1);
out.outB64 = Array.from(n.toTypedArray(b64));
out.inI32 = [r * 10 + 1, r * 10 + 2, -(r + 1)];
const i32 = n.fromTypedArray(Int32Array.from(out.inI32), [3], 'int32');
n.commBroadcast(i32, 0);
out.outI32 = Array.from(n.toTypedArray(i32));
// barrier: rank 1 arrives 300 ms late; rank 0 must wait for it
const t0 = Date.now();
if (r === 1) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
n.commBarrier();
out.barrierMs = Date.now() - t0;
// mismatches: every rank throws the same error
out.dtypes = caught(() => n.commBroadcast(r === 0 ? n.zeros([4]) : n.zeros([4], 'float64'), 0));
out.shapes = caught(() => n.commAllReduceSum(n.zeros(r === 0 ? [2, 3] : [3, 2])));
out.int32 = caught(() => n.commAllReduceSum(r === 0 ? n.zeros([3]) : n.zeros([3], 'int32')));
out.roots = caught(() => n.commBroadcast(n.zeros([2]), r));
out.rootRange = caught(() => n.commBroadcast(n.zeros([2]), 5));
out.calls = caught(() => (r === 0 ? n.commBarrier() : n.commAllReduceSumArray(new Float64Array(2))));
out.lengths = caught(() => n.commAllReduceSumArray(new Float64Array(r + 1)));
// still in step afterwards
const after = Float64Array.from([r + 1]);
n.commAllReduceSumArray(after);
out.after = after[0];
write('main-' + r + '.json', out);
`;

// The collective queue (core/comm_queue.h): all-reduces started and waited for later, a
// synchronous collective between them (it waits for the started ones first, on every rank), a
// mismatch between the ranks surfacing at the wait, tickets waited for twice or never given.
const QUEUE = `${HEAD}
const job = n.mpiInit(20);
const r = job.rank;
const out = { rank: r };
out.ins = [values(r, 1000, 11), values(r, 3, 12), values(r, 70000, 13)].map((v) => Array.from(Float32Array.from(v)));
const ts = out.ins.map((v) => n.fromTypedArray(Float32Array.from(v), [v.length]));
const tickets = ts.map((t) => n.commAllReduceSumStart(t));
const arr = Float64Array.from([r + 1]);
n.commAllReduceSumArray(arr);
out.array = arr[0];
tickets.reverse().forEach((k) => n.commWait(k));
out.outs = ts.map((t) => Array.from(n.toTypedArray(t)));
const bad = n.commAllReduceSumStart(n.zeros(r === 0 ? [2] : [3]));
const good = n.commAllReduceSumStart(n.fromTypedArray(Float64Array.from([r + 1]), [1], 'float64'));
out.mismatch = caught(() => n.commWait(bad));
out.twice = caught(() => n.commWait(bad));
out.never = caught(() => n.commWait(123456));
out.typeError = caught(() => n.commWait('1'));
out.afterMismatch = caught(() => n.commWait(good));
const after = Float64Array.from([r + 1]);
n.commAllReduceSumArray(after);
out.after = after[0];
write('queue-' + r + '.json', out);
`;

// Rank 1 leaves (mode 'exit': exits normally; 'kill': SIGKILL; 'hang': blocks for 60 s) before an
// all-reduce that rank 0 makes.
const DIE = `${HEAD}
const job = n.mpiInit(3);
write('started-' + job.rank + '.json', job);
if (job.rank === 1) {
  if (mode === 'exit') process.exit(0);
  if (mode === 'kill') process.kill(process.pid, 'SIGKILL');
  if (mode === 'hang') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000);
}
n.commAllReduceSum(n.zeros([1000]));
write('finished-' + job.rank + '.json', true);
`;

// Rank 0 works on for 5 s after the last collective (mpiInit(2)) while rank 1 has finished and
// waits at exit (MPI_Finalize): that is no hang, and the job must end normally.
const LATE = `${HEAD}
const job = n.mpiInit(2);
const a = Float64Array.from([job.rank + 1]);
n.commAllReduceSumArray(a);
if (job.rank === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5000);
write('late-' + job.rank + '.json', a[0]);
`;

function script(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

interface Run {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  seconds: number;
  detail: string;
}

// mpirun -np 2 node FILE args…, ended (SIGTERM: mpirun then ends its ranks) after `timeoutMs`.
function mpirun(file: string, args: string[], timeoutMs: number): Run {
  const flags = OPEN_MPI ? ['--allow-run-as-root', '--oversubscribe'] : [];
  return run('mpirun', [...flags, '-np', '2', process.execPath, file, ...args], timeoutMs);
}

function run(command: string, args: string[], timeoutMs: number): Run {
  const t0 = Date.now();
  const r = spawnSync(command, args, { encoding: 'utf8', env: childEnv, timeout: timeoutMs, killSignal: 'SIGTERM', cwd: dir });
  const seconds = (Date.now() - t0) / 1000;
  const detail = `${command} ${args.join(' ')}: status ${r.status}, signal ${r.signal}, ${seconds.toFixed(1)} s\n` +
    `stdout: ${(r.stdout ?? '').slice(-3000)}\nstderr: ${(r.stderr ?? '').slice(-3000)}`;
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', seconds, detail };
}

function result<T>(name: string, detail: string): T {
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) throw new Error(`the child wrote no ${name}:\n${detail}`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

interface Caught {
  type: string;
  message: string;
}

// --- the build -----------------------------------------------------------------------------------
test('mpiInfo: the library (e.g. "Open MPI 4.1.4") or why there is none', () => {
  if (mpi.library !== null) {
    expect(mpi.library).toMatch(/\S/);
    expect(mpi.library).not.toMatch(/,|\n/);
  } else {
    expect(mpi.reason).toBe('this build has no MPI (install libopenmpi-dev and rebuild)');
  }
  // CI installs libopenmpi-dev (.ci/run): there the MPI half must run, never silently skip.
  const mpicc = spawnSync('mpicc', ['--showme:version'], { encoding: 'utf8' });
  if (process.env.CI && mpicc.status === 0 && !process.env.NEWTON_CNN_ADDON) expect(mpi.library).not.toBeNull();
});

withoutMpi('a build without MPI: every call throws the Error naming the package', () => {
  const why = /this build has no MPI \(install libopenmpi-dev and rebuild\)/;
  expect(() => native().mpiInit(5)).toThrow(why);
  expect(() => native().commBarrier()).toThrow(why);
  expect(() => native().commAllReduceSumArray(new Float64Array(1))).toThrow(why);
  expect(() => native().commAllReduceSum(native().zeros([1]))).toThrow(why);
  expect(() => native().commBroadcast(native().zeros([1]), 0)).toThrow(why);
});

// --- a job of one ---------------------------------------------------------------------------------
withMpi('outside mpirun: rank 0 of 1, all-reduce and broadcast are the identity; the errors', () => {
  const file = script('single.js', SINGLE);
  const r = run(process.execPath, [file, distNative, dir], 120_000);
  if (r.status !== 0) throw new Error(`the child failed:\n${r.detail}`);
  const out = result<Record<string, unknown> & { job: Record<string, unknown>; typeErrors: Caught[]; badTimeouts: Caught[]; beforeInit: Caught[] }>('single.json', r.detail);
  expect(out.info).toEqual({ library: mpi.library });
  expect(out.job).toEqual({ rank: 0, size: 1, localRank: 0, localSize: 1, library: mpi.library });
  expect(out.again).toEqual(out.job);
  expect(out.same32).toBe(true);
  expect(out.same64).toBe(true);
  expect(out.array).toEqual([1.5, -2, 1e300]);
  expect(out.sameBroadcast).toBe(true);

  for (const e of out.beforeInit) {
    expect(e).toEqual({ type: 'Error', message: expect.stringMatching(/^comm\w+: MPI is not initialised in this process: call mpiInit\(timeoutSeconds\) first$/) });
  }
  expect(out.badTimeouts.map((e) => e.type)).toEqual(['RangeError', 'RangeError', 'RangeError', 'RangeError']);
  expect(out.badTimeouts.map((e) => e.message)).toEqual(['0', '-1', 'NaN', 'Infinity'].map((v) => `mpiInit: timeoutSeconds must be a finite number of seconds > 0, got ${v}`));
  expect(out.typeTimeout).toEqual({ type: 'TypeError', message: expect.stringMatching(/^mpiInit: timeoutSeconds must be a number, got string/) });
  expect(out.workerFirst).toEqual({ type: 'Error', message: expect.stringMatching(/^mpiInit: MPI can only be initialised from the main JavaScript thread, not from a worker thread/) });
  expect(out.workerInit).toEqual(out.workerFirst);
  expect(out.workerCollective).toEqual({ type: 'Error', message: expect.stringMatching(/^commBarrier: MPI collectives run on the thread that called mpiInit \(the main JavaScript thread\)/) });

  expect(out.root1).toEqual({ type: 'RangeError', message: 'commBroadcast: rank 0 (this process) names root 1, which is not a rank of this job of 1 (ranks 0 to 0)' });
  expect(out.int32).toEqual({ type: 'RangeError', message: 'commAllReduceSum: the tensor of rank 0 (this process) is int32; only float32 and float64 tensors can be summed' });
  expect(out.typeErrors[0]).toEqual({ type: 'TypeError', message: 'commAllReduceSum: t must be a Tensor, got number' });
  expect(out.typeErrors[1]).toEqual({ type: 'TypeError', message: 'commAllReduceSumArray: a must be a Float64Array, got Float32Array' });
  expect(out.typeErrors[2]).toEqual({ type: 'TypeError', message: 'commAllReduceSumArray: a must be a Float64Array, got array' });
  expect(out.typeErrors[3]).toEqual({ type: 'RangeError', message: 'commBroadcast: root must be a non-negative safe integer, got -1' });
  expect(out.typeErrors[4]).toEqual({ type: 'RangeError', message: 'commBroadcast: root must be a non-negative safe integer, got 1.5' });
  expect(out.typeErrors[5]).toEqual({ type: 'TypeError', message: 'commBroadcast: root must be a number, got undefined' });
  expect(out.disposed).toEqual({ type: 'Error', message: expect.stringMatching(/^commAllReduceSum: .*dispos/) });
  if (out.cuda !== 'no CUDA device') {
    expect(out.cuda).toEqual({ type: 'Error', message: expect.stringMatching(/^commAllReduceSum: the tensor of rank 0 \(this process\) is on cuda:\d+ but NCCL is not initialised there: collectives of CUDA tensors need the NCCL backend \(ncclInit, or initDistributed\('nccl'\)\)/) });
  }
}, 150_000);

// --- two ranks ------------------------------------------------------------------------------------
interface MainOut {
  beforeInit: Caught;
  job: { rank: number; size: number; localRank: number; localSize: number; library: string };
  again: MainOut['job'];
  in32: number[]; out32: number[]; shape32: number[];
  in64: number[]; out64: number[];
  inBase: number[]; outBase: number[];
  empty: Caught | null;
  inArray: number[]; outArray: number[];
  inB32: number[]; outB32: number[];
  inB64: number[]; outB64: number[];
  inI32: number[]; outI32: number[];
  barrierMs: number;
  dtypes: Caught; shapes: Caught; int32: Caught; roots: Caught; rootRange: Caught; calls: Caught; lengths: Caught;
  after: number;
}

withMpirun('mpirun -np 2: ranks, all-reduce (float32, float64, a view, an array), broadcast from root 1, barrier', () => {
  const file = script('main.js', MAIN);
  const r = mpirun(file, [distNative, dir], 120_000);
  if (r.status !== 0) throw new Error(`mpirun failed:\n${r.detail}`);
  const outs = [0, 1].map((k) => result<MainOut>(`main-${k}.json`, r.detail));
  const [a, b] = outs;
  expect(a.beforeInit).toEqual({ type: 'Error', message: 'commBarrier: MPI is not initialised in this process: call mpiInit(timeoutSeconds) first' });
  expect(outs.map((o) => o.job)).toEqual([
    { rank: 0, size: 2, localRank: 0, localSize: 2, library: mpi.library },
    { rank: 1, size: 2, localRank: 1, localSize: 2, library: mpi.library },
  ]);
  for (const o of outs) expect(o.again).toEqual(o.job);

  // The sums, computed here: float32 rounding of the exact sum of two float32 values.
  const sum32 = a.in32.map((v, i) => Math.fround(v + b.in32[i]));
  const sum64 = a.in64.map((v, i) => v + b.in64[i]);
  expect(a.in32).not.toEqual(b.in32);
  for (const o of outs) {
    expect(o.out32).toEqual(sum32);
    expect(o.shape32).toEqual([7, 11, 13]);
    expect(o.out64).toEqual(sum64);
    expect(o.outArray).toEqual(a.inArray.map((v, i) => v + b.inArray[i]));
    expect(o.empty).toBeNull();
  }
  // The view: only elements [5, 13) are summed.
  for (const o of outs) {
    expect(o.outBase).toEqual(o.inBase.map((v, i) => (i >= 5 && i < 13 ? a.inBase[i] + b.inBase[i] : v)));
  }
  // Broadcast: root 1's data everywhere, bit for bit.
  for (const o of outs) {
    expect(o.outB32).toEqual(b.inB32);
    expect(o.outB64).toEqual(b.inB64);
    expect(o.outI32).toEqual(a.inI32);
  }
  expect(a.outB32).not.toEqual(a.inB32);
  // Rank 0 waited for rank 1 at the barrier.
  expect(a.barrierMs).toBeGreaterThanOrEqual(250);

  // Mismatches: the same error on both ranks, naming the rank at fault.
  const here = (o: MainOut, text: string) => text.replace(`rank ${o.job.rank}`, `rank ${o.job.rank} (this process)`);
  for (const o of outs) {
    expect(o.dtypes).toEqual({ type: 'RangeError', message: here(o, 'commBroadcast: rank 1 has a float64 tensor of shape (4) but the root, rank 0, has a float32 tensor of shape (4); shapes and dtypes must agree on every rank') });
    expect(o.shapes).toEqual({ type: 'RangeError', message: here(o, 'commAllReduceSum: rank 1 has a float32 tensor of shape (3, 2) but rank 0 has a float32 tensor of shape (2, 3); shapes and dtypes must agree on every rank') });
    expect(o.int32).toEqual({ type: 'RangeError', message: here(o, 'commAllReduceSum: the tensor of rank 1 is int32; only float32 and float64 tensors can be summed') });
    expect(o.roots).toEqual({ type: 'RangeError', message: here(o, 'commBroadcast: rank 1 names root 1 but rank 0 names root 0; every rank must name the same root') });
    expect(o.rootRange).toEqual({ type: 'RangeError', message: here(o, 'commBroadcast: rank 0 names root 5, which is not a rank of this job of 2 (ranks 0 to 1)') });
    // Each rank's error names the function it called.
    const fn = o.job.rank === 0 ? 'commBarrier' : 'commAllReduceSumArray';
    expect(o.calls).toEqual({ type: 'Error', message: here(o, `${fn}: the ranks called different collectives: rank 1 called an all-reduce of a Float64Array where rank 0 called a barrier; every rank must make the same collective calls in the same order`) });
    expect(o.lengths).toEqual({ type: 'RangeError', message: here(o, 'commAllReduceSumArray: rank 1 has a Float64Array of length 2 but rank 0 has a Float64Array of length 1; the lengths must agree on every rank') });
    expect(o.after).toBe(3);
  }
}, 150_000);

withMpirun('mpirun -np 2: all-reduces started on the collective queue and waited for later', () => {
  const file = script('queue.js', QUEUE);
  const r = mpirun(file, [distNative, dir], 120_000);
  if (r.status !== 0) throw new Error(`mpirun failed:\n${r.detail}`);
  interface QueueOut { rank: number; ins: number[][]; outs: number[][]; array: number; mismatch: Caught; twice: Caught; never: Caught; typeError: Caught; afterMismatch: Caught | null; after: number }
  const outs = [0, 1].map((k) => result<QueueOut>(`queue-${k}.json`, r.detail));
  const [a, b] = outs;
  const here = (o: QueueOut, text: string) => text.replace(`rank ${o.rank}`, `rank ${o.rank} (this process)`);
  for (const o of outs) {
    o.outs.forEach((got, k) => expect(got).toEqual(a.ins[k].map((v, i) => Math.fround(v + b.ins[k][i]))));
    expect(o.array).toBe(3);
    expect(o.mismatch).toEqual({ type: 'RangeError', message: here(o, 'commAllReduceSum: rank 1 has a float32 tensor of shape (3) but rank 0 has a float32 tensor of shape (2); shapes and dtypes must agree on every rank') });
    expect(o.twice).toEqual({ type: 'RangeError', message: 'commWait: no collective in flight has ticket 4 (each is waited for once)' }); // the fourth started
    expect(o.never).toEqual({ type: 'RangeError', message: 'commWait: no collective in flight has ticket 123456 (each is waited for once)' });
    expect(o.typeError).toEqual({ type: 'TypeError', message: 'commWait: ticket must be a number, got string' });
    expect(o.afterMismatch).toBeNull();
    expect(o.after).toBe(3);
  }
}, 150_000);

withMpirun('a rank that works on longer than the timeout after the others are done is not ended', () => {
  const file = script('late.js', LATE);
  const r = mpirun(file, [distNative, dir], 60_000);
  if (r.status !== 0) throw new Error(`mpirun failed:\n${r.detail}`);
  expect([0, 1].map((k) => result<number>(`late-${k}.json`, r.detail))).toEqual([3, 3]);
  expect(r.seconds).toBeGreaterThanOrEqual(5);
  expect(r.stderr).not.toMatch(/has waited/);
}, 90_000);

// --- a rank that dies -----------------------------------------------------------------------------
// mpiInit(3): rank 0 must be ended within the timeout and some slack (mpirun's start, the abort),
// never hang: mpirun itself is stopped after 60 s, which fails the test.
const SLACK_S = 25;
describe.each([
  ['exits normally', 'exit'],
  ['is killed (SIGKILL)', 'kill'],
  ['hangs', 'hang'],
])('rank 1 %s before an all-reduce', (_what, mode) => {
  withMpirun(`rank 0 ends within 3 s + ${SLACK_S} s with a non-zero status and a message naming the rank`, () => {
    const file = script(`die-${mode}.js`, DIE);
    const out = path.join(dir, mode);
    fs.mkdirSync(out);
    const r = mpirun(file, [distNative, out, mode], 60_000);
    expect(r.signal).toBeNull();  // not stopped by the hard timeout
    expect(r.status).not.toBe(0);
    expect(r.seconds).toBeLessThan(3 + SLACK_S);
    // Both ranks started; neither finished.
    result(`${mode}/started-0.json`, r.detail);
    result(`${mode}/started-1.json`, r.detail);
    expect(fs.existsSync(path.join(out, 'finished-0.json'))).toBe(false);
    const watchdog = /newton-cnn: rank 0 of 2: MPI_\w+ \(commAllReduceSum\) has waited \d+(\.\d)? s for the other ranks \(one has died or hangs\); ending the job/;
    const byMpirun = /process rank 1 .*(exited on signal|exiting improperly)|rank 1 with PID/;
    const text = `${r.stdout}\n${r.stderr}`;
    if (mode === 'hang') {
      expect(text).toMatch(watchdog);  // mpirun cannot see a rank that hangs
    } else {
      if (!watchdog.test(text) && !byMpirun.test(text)) throw new Error(`no message naming the rank:\n${r.detail}`);
    }
  }, 90_000);
});
