// Collectives of CUDA tensors over NCCL (native/core/comm.h, note [communicators], "NCCL";
// cuda/comm_nccl.cu; the addon's ncclInfo and ncclInit; initDistributed('nccl')).
//
// Here, without a GPU or without NCCL in the build:
//   - ncclInfo() names the library or says why not (no CUDA library, no NCCL in the build, no GPU),
//     and distributedInfo().nccl says the same;
//   - initDistributed('nccl') throws that reason before MPI starts; ncclInit before mpiInit throws;
//   - in MPI jobs of one and two (child processes), ncclInit after mpiInit throws on every rank,
//     naming the rank that cannot, and the job stays usable.
// With GPUs (each case in child processes: MPI and NCCL are set up once per process):
//   - one GPU: a job of one on NCCL (ncclInit, all-reduce, broadcast, barrier of CUDA tensors; CPU
//     tensors still over MPI);
//   - two GPUs or more: `mpirun -np 2`, one GPU per rank (NCCL refuses two ranks on one GPU):
//     all-reduce and broadcast of CUDA tensors against the sums computed here, and a CUDA tensor on
//     one rank against a CPU tensor on the other (the same error on both).
// The groups that cannot run here are skipped, the reason in their titles.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { distributedInfo, initDistributed } from '../lib';
import { native } from '../lib/native';
import { distCli, distIndex, ensureDist } from './fixtures/dist';
import { CHILD_HELPERS, mpiEnv, mpirun, mpiUnavailable } from './mpi';

const nccl = native().ncclInfo();
const ncclReason = nccl.library === null ? nccl.reason : '';
const mpiWhy = mpiUnavailable();
const gpus = native().devices().filter((d) => d.kind === 'cuda' && d.available).length;
const oneRankWhy = nccl.library === null ? nccl.reason : mpiWhy;
const twoRankWhy = oneRankWhy ?? (gpus < 2 ? `NCCL needs one GPU per rank and this machine has ${gpus}` : null);
const refusalWhy = nccl.library !== null ? `NCCL is usable here (${nccl.library}), so the refusal cannot happen` : mpiWhy;

// The GPU groups skip on machines without GPUs (CI has none), the reason in their titles; that
// CI's build has NCCL at all is asserted by the ncclInfo test below.
const group = (why: string | null) => (title: string, fn: () => void): void =>
  why === null ? describe(title, fn) : describe.skip(`${title} [skipped: ${why}]`, fn);

let dir = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'newton-nccl-'));
  if (mpiWhy === null) ensureDist();
}, 300_000);
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

interface Caught {
  type: string;
  message: string;
}

// Shared head of the child scripts: argv = [distIndex, outDir]; `lib` the compiled library, `n`
// the addon; caught(f) the error f throws (null when none); write(name, value) the result file.
const HEAD = `'use strict';
const fs = require('node:fs');
const path = require('node:path');
const [distIndex, outDir] = process.argv.slice(2);
const lib = require(distIndex);
const n = require(path.join(path.dirname(distIndex), 'native.js')).native();
${CHILD_HELPERS}`;

function script(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function result<T>(name: string, detail: string): T {
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) throw new Error(`the child wrote no ${name}:\n${detail}`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

function runJob(ranks: number, file: string, timeoutMs: number): string {
  const r = mpirun(ranks, [file, distIndex, dir], timeoutMs);
  const detail = `mpirun -np ${ranks} ${file}: status ${r.status}\nstdout: ${r.stdout.slice(-3000)}\nstderr: ${r.stderr.slice(-3000)}`;
  if (r.status !== 0) throw new Error(`the job failed:\n${detail}`);
  return detail;
}

// --- the build ------------------------------------------------------------------------------------
test('ncclInfo: the library ("NCCL 2.x.y") or why not (no CUDA library, no NCCL in the build, no GPU)', () => {
  if (nccl.library !== null) {
    expect(nccl).toEqual({ library: expect.stringMatching(/^NCCL \d+\.\d+\.\d+$/) });
  } else {
    expect(Object.keys(nccl).sort()).toEqual(['library', 'reason']);
    expect(nccl.reason).toMatch(
      /^(no CUDA library: .+|this build has no NCCL \(install the nvidia-nccl-cu13 wheel: scripts\/install-cuda-wheels\.sh\)|this build has no NCCL \(libnewton_cuda\.so has no NCCL entry points.*|NCCL \d+\.\d+\.\d+ is in this build, but there is no GPU: .+)$/,
    );
  }
  expect(distributedInfo().nccl).toEqual(nccl);
  // CI builds with NEWTON_USE_NCCL=ON (.ci/run): there NCCL must be in the CUDA library, usable or not.
  if (process.env.CI && process.env.NEWTON_USE_NCCL === 'ON' && !process.env.NEWTON_CNN_ADDON) {
    expect(nccl.library ?? nccl.reason).toMatch(/^NCCL \d+\.\d+\.\d+/);
  }
});

test('ncclInit before mpiInit (or without MPI) throws, naming what to call first', () => {
  const mpi = native().mpiInfo();
  const expected = mpi.library === null ? /^ncclInit: this build has no MPI/ : /^ncclInit: MPI is not initialised in this process: call mpiInit\(timeoutSeconds\) first$/;
  expect(() => native().ncclInit(5)).toThrow(expected);
  expect(() => native().ncclInit('5' as unknown as number)).toThrow(/^ncclInit: timeoutSeconds must be a number, got string/);
});

group(nccl.library === null ? null : `NCCL is usable here (${nccl.library}), so the refusal cannot happen`)('without a usable NCCL', () => {
  test("initDistributed('nccl') throws the Error that says why, before MPI starts", () => {
    const mpi = native().mpiInfo();
    // Without MPI the MPI reason comes first (NCCL's id goes through MPI).
    const expected = mpi.library === null ? `initDistributed: ${mpi.reason}` : `initDistributed: 'nccl' cannot be used here: ${ncclReason}`;
    expect(() => initDistributed('nccl')).toThrow(expected);
    expect(() => initDistributed('gloo' as 'nccl')).toThrow("initDistributed: backend must be 'mpi' or 'nccl', got \"gloo\"");
  });

  test('newton-cnn train --distributed nccl: a usage error (exit 2) that says why', () => {
    const r = spawnSync(process.execPath, [distCli, 'train', '--distributed', 'nccl', '--iterations', '1'], { encoding: 'utf8', env: mpiEnv(), timeout: 120_000 });
    expect(r.status).toBe(2);
    const mpi = native().mpiInfo();
    expect(r.stderr).toContain(mpi.library === null ? `--distributed nccl: ${mpi.reason}` : `--distributed nccl: 'nccl' cannot be used here: ${ncclReason}`);
  }, 150_000);
});

// --- a job of one that cannot use NCCL ----------------------------------------------------------------
const REFUSED = `${HEAD}
const out = {};
out.job = n.mpiInit(20);
out.nccl = caught(() => n.ncclInit(20));
out.again = caught(() => n.ncclInit(20));
// still in step, and CPU tensors still go through MPI
const a = Float64Array.from([1.5]);
n.commAllReduceSumArray(a);
out.after = a[0];
n.commBarrier();
write('refused-' + out.job.rank + '.json', out);
`;

group(refusalWhy)('MPI jobs that cannot use NCCL', () => {
  test.each([1, 2])('mpirun -np %d: ncclInit after mpiInit throws the reason on every rank, naming it; MPI stays usable', (ranks) => {
    const detail = runJob(ranks, script(`refused-${ranks}.js`, REFUSED), 60_000);
    for (let r = 0; r < ranks; r++) {
      const out = result<{ nccl: Caught; again: Caught; after: number }>(`refused-${r}.json`, detail);
      const expected = { type: 'Error', message: `ncclInit: rank ${r} (this process) cannot use NCCL: ${ncclReason}` };
      expect(out.nccl).toEqual(expected);
      expect(out.again).toEqual(expected);
      expect(out.after).toBe(1.5 * ranks);
    }
  }, 90_000);
});

// --- GPUs ------------------------------------------------------------------------------------------
// Both: CUDA float32 all-reduce (a view too) and broadcast from the last rank, barrier, a CPU
// tensor over MPI after NCCL, ncclInit twice; with two ranks, a CUDA tensor against a CPU one.
const GPU = `${HEAD}
const out = {};
const dist = lib.initDistributed('nccl', { timeoutSeconds: 60 });
const r = dist.rank;
out.job = { rank: r, size: dist.size, device: dist.device, library: dist.library };
out.again = n.ncclInit(60);
const device = dist.device;
out.in32 = Array.from(Float32Array.from(values(r, 3000, 1)));
const t32 = lib.Tensor.from(Float32Array.from(out.in32), { shape: [3, 1000], device });
dist.allReduceSum(t32);
out.out32 = Array.from(t32.toArray());
out.onDevice = t32.device;
out.inB = Array.from(Float32Array.from(values(r, 257, 2)));
const b = lib.Tensor.from(Float32Array.from(out.inB), { shape: [257], device });
dist.broadcast(b, dist.size - 1);
out.outB = Array.from(b.toArray());
dist.barrier();
n.commBarrier();
out.inCpu = values(r, 9, 3);
const c = lib.Tensor.from(Float64Array.from(out.inCpu), { shape: [9], dtype: 'float64' });
dist.allReduceSum(c);
out.outCpu = Array.from(c.toArray());
out.empty = caught(() => dist.allReduceSum(lib.Tensor.zeros([0], { device })));
if (dist.size > 1) {
  out.mixed = caught(() => dist.allReduceSum(r === 0 ? lib.Tensor.zeros([4], { device }) : lib.Tensor.zeros([4])));
  const after = Float64Array.from([r + 1]);
  dist.allReduceScalars(after);
  out.after = after[0];
}
write('gpu-' + r + '.json', out);
`;

interface GpuOut {
  job: { rank: number; size: number; device: string; library: string };
  again: { rank: number; size: number; localRank: number; localSize: number; device: string; library: string };
  in32: number[]; out32: number[]; onDevice: string;
  inB: number[]; outB: number[];
  inCpu: number[]; outCpu: number[];
  empty: Caught | null;
  mixed?: Caught;
  after?: number;
}

group(oneRankWhy)('NCCL, a job of one on one GPU', () => {
  test('ncclInit, all-reduce and broadcast of CUDA tensors (the identity), barrier; CPU tensors over MPI', () => {
    const detail = runJob(1, script('gpu1.js', GPU), 120_000);
    const out = result<GpuOut>('gpu-0.json', detail);
    expect(out.job).toEqual({ rank: 0, size: 1, device: 'cuda:0', library: expect.stringMatching(/^NCCL \d+\.\d+\.\d+ over /) });
    expect(out.again).toEqual({ rank: 0, size: 1, localRank: 0, localSize: 1, device: 'cuda:0', library: nccl.library });
    expect(out.onDevice).toBe('cuda:0');
    expect(out.out32).toEqual(out.in32);
    expect(out.outB).toEqual(out.inB);
    expect(out.outCpu).toEqual(out.inCpu);
    expect(out.empty).toBeNull();
  }, 150_000);
});

group(twoRankWhy)('NCCL, mpirun -np 2, one GPU per rank', () => {
  test('all-reduce and broadcast of CUDA tensors equal the sums computed here; a CPU tensor against a CUDA one', () => {
    const detail = runJob(2, script('gpu2.js', GPU), 180_000);
    const outs = [0, 1].map((k) => result<GpuOut>(`gpu-${k}.json`, detail));
    const [a, b] = outs;
    expect(outs.map((o) => o.job.device)).toEqual(['cuda:0', 'cuda:1']);
    // Two float32 addends: every order of summation gives the float32 rounding of their exact sum.
    const sum32 = a.in32.map((v, i) => Math.fround(v + b.in32[i]));
    const sumCpu = a.inCpu.map((v, i) => v + b.inCpu[i]);
    expect(a.in32).not.toEqual(b.in32);
    for (const o of outs) {
      expect(o.out32).toEqual(sum32);
      expect(o.outB).toEqual(b.inB);  // root 1's, bit for bit
      expect(o.outCpu).toEqual(sumCpu);
      expect(o.empty).toBeNull();
      const here = (text: string) => text.replace(`rank ${o.job.rank}`, `rank ${o.job.rank} (this process)`);
      expect(o.mixed).toEqual({ type: 'Error', message: here('commAllReduceSum: the tensor of rank 1 is on cpu but that of rank 0 is on cuda:0; every rank\'s tensor must be on the CPU (MPI) or every rank\'s on a GPU (NCCL)') });
      expect(o.after).toBe(3);
    }
  }, 240_000);
});
