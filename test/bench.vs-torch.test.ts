// `npm run bench -- vs-torch` (scripts/bench/vs-torch.ts): its options, and the compiled suite
// run quickly when PyTorch cannot be had: a Python without torch, a Python that is not there, and
// a PyTorch half that crashes after starting. In each case our half runs and prints its table.
// (The figures themselves are not tested: timings vary with the machine and its load.)
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { UsageError } from '../scripts/bench/common';
import { vsTorchSettings } from '../scripts/bench/vs-torch';
import { ensureDist, root } from './fixtures/dist';

const bench = path.join(root, 'dist', 'scripts', 'bench.js');
// The quick path restricted to the Gv rows with one sample each: seconds, not minutes.
const QUICK = ['vs-torch', '--quick', '--only', 'gv', '--repeats', '1'];

/** dist/scripts/bench.js current with scripts/bench (ensureDist looks at lib/ only). */
function ensureBench(): void {
  ensureDist();
  const dir = path.join(root, 'scripts', 'bench');
  const newest = Math.max(...fs.readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => fs.statSync(path.join(dir, f)).mtimeMs));
  const compiled = path.join(root, 'dist', 'scripts', 'bench', 'vs-torch.js');
  if (!fs.existsSync(compiled) || fs.statSync(compiled).mtimeMs < newest) {
    try {
      execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')], { cwd: root, stdio: 'inherit' });
    } catch (e) {
      if (!fs.existsSync(compiled)) throw e;
    }
  }
}

let dir: string;
beforeAll(() => {
  ensureBench();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'newton-vs-torch-'));
}, 300000);
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function runBench(python: string, args: readonly string[] = QUICK): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bench, ...args], { encoding: 'utf8', timeout: 240000, env: { ...process.env, NEWTON_TORCH_PYTHON: python } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function executable(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text, { mode: 0o755 });
  return file;
}

describe('options', () => {
  test('defaults: the issue workloads on 2 threads', () => {
    const s = vsTorchSettings([]);
    expect(s).toMatchObject({ quick: false, threads: 2, sgdBatch: 128, inferenceBatch: 1024, gvSamples: [500, 3000], only: ['sgd', 'inference', 'gv', 'newton'], json: undefined });
    expect(s.newton).toEqual({ trainSize: 60000, samples: 3000, batchSize: 256, cgSteps: 10, lineSearchPasses: 2 });
  });

  test('--quick shrinks the Gv and Newton workloads and the repeats', () => {
    const s = vsTorchSettings(['--quick']);
    expect(s.gvSamples).toEqual([64, 256]);
    expect(s.newton).toMatchObject({ trainSize: 1000, samples: 50, cgSteps: 10, lineSearchPasses: 2 });
    expect(s.repeats).toBeLessThan(vsTorchSettings([]).repeats);
  });

  test('values: --threads, --repeats, --newton-repeats, --train-size (|S| = 5%), --only in the suite order, --json', () => {
    const s = vsTorchSettings(['--threads', '1', '--repeats=3', '--newton-repeats', '2', '--train-size', '2000', '--only', 'newton,sgd', '--json', 'out.json']);
    expect(s).toMatchObject({ threads: 1, repeats: 3, newtonRepeats: 2, only: ['sgd', 'newton'], json: 'out.json' });
    expect(s.newton).toMatchObject({ trainSize: 2000, samples: 100 });
  });

  test('bad values name the option and the value', () => {
    expect(() => vsTorchSettings(['--threads', '0'])).toThrow(new UsageError('--threads must be a positive integer, got 0'));
    expect(() => vsTorchSettings(['--repeats', 'many'])).toThrow(/--repeats must be a positive integer, got many/);
    expect(() => vsTorchSettings(['--only', 'sgd,adam'])).toThrow(/--only must be a comma-separated list of sgd, inference, gv, newton; got "sgd,adam"/);
    expect(() => vsTorchSettings(['--json'])).toThrow(/--json needs a value/);
    expect(() => vsTorchSettings(['--batch', '64'])).toThrow(/unknown option --batch/);
  });

  test('the compiled suite exits with 2 and its options on a bad value', () => {
    const r = runBench('/nonexistent', ['vs-torch', '--threads', '-1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/bench vs-torch: --threads must be a positive integer, got -1\noptions:\n.*--quick/);
  });
});

describe('without PyTorch our half runs alone', () => {
  test('a Python without torch: one line saying so, then our table, exit 0', () => {
    // python3 with site-packages off cannot import torch; where there is no python3 at all the
    // spawn fails instead, which is reported on the same line.
    const python = executable('python-without-torch', '#!/bin/sh\nexec python3 -S -E "$@"\n');
    const json = path.join(dir, 'quick.json');
    const r = runBench(python, [...QUICK, '--json', json]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`PyTorch not found (NEWTON_TORCH_PYTHON=${python}: `);
    expect(r.stdout).toContain('set NEWTON_TORCH_PYTHON=/path/to/python; PyTorch half skipped');
    expect(r.stdout).toMatch(/Gv, \|S\| = 64 +28x28x1 +\d+\.\d/);
    expect(r.stdout).toMatch(/Gv, \|S\| = 256 +32x32x3 +\d+\.\d/);
    const out = JSON.parse(fs.readFileSync(json, 'utf8')) as { suite: string; torch: unknown; rows: Array<{ kind: string; oursMs: number; torchMs: unknown; ratio: unknown; parameters: number }> };
    expect(out.suite).toBe('vs-torch');
    expect(out.torch).toBeNull();
    expect(out.rows.map((x) => x.kind)).toEqual(['gv', 'gv', 'gv', 'gv']);
    expect(out.rows.map((x) => x.parameters)).toEqual([62026, 62026, 68106, 68106]);
    for (const row of out.rows) {
      expect(row.oursMs).toBeGreaterThan(0);
      expect(row.torchMs).toBeNull();
      expect(row.ratio).toBeNull();
    }
  });

  test('a Python that does not exist: the same line naming it', () => {
    const missing = path.join(dir, 'no-such-python');
    const r = runBench(missing);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`PyTorch not found \\(NEWTON_TORCH_PYTHON=${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: .*ENOENT.*\\), set NEWTON_TORCH_PYTHON=/path/to/python; PyTorch half skipped`));
    expect(r.stdout).toMatch(/Gv, \|S\| = 64 +28x28x1/);
  });

  test('a PyTorch half that crashes after starting: reported with its output, ours goes on, exit 1', () => {
    const crashing = executable(
      'python-crashing',
      '#!/bin/sh\n' +
        'echo \'{"ready": true, "torch": "0.0-fake", "python": "0", "threads": 2, "interopThreads": 1, "mkldnn": false}\'\n' +
        'read request\n' +
        'echo "fake torch: segmentation fault in setup" >&2\n' +
        'exit 7\n',
    );
    const r = runBench(crashing);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('PyTorch 0.0-fake');
    expect(r.stderr).toMatch(/vs-torch: PyTorch half \(.*python-crashing vs_torch\.py\) exited with code 7 during 'setup'; its last output:\n\s+fake torch: segmentation fault in setup\nvs-torch: continuing without PyTorch/);
    // every row still measured, by us alone
    expect(r.stdout).toMatch(/Gv, \|S\| = 64 +28x28x1 +\d+\.\d/);
    expect(r.stdout).toMatch(/Gv, \|S\| = 256 +32x32x3 +\d+\.\d/);
  });
});

// With a PyTorch at hand (NEWTON_TORCH_PYTHON=/path/to/python): its half builds the same network
// (equal parameter counts), times both layouts, reports errors per request and exits when asked.
const torchPython = process.env.NEWTON_TORCH_PYTHON;
(torchPython ? describe : describe.skip)('the PyTorch half (NEWTON_TORCH_PYTHON set)', () => {
  test('same parameter counts, a timing per layout, errors answered, a clean exit', async () => {
    const { TorchPeer } = await import('../scripts/bench/torch-peer');
    const { gvWorkload, inferenceWorkload } = await import('../scripts/bench/vs-torch-ours');
    const peer = await TorchPeer.start(1);
    if (!(peer instanceof TorchPeer)) throw new Error(peer.skip);
    try {
      expect(peer.info.threads).toBe(1);
      expect(peer.info.interopThreads).toBe(1);
      for (const shape of [[1, 28, 28], [3, 32, 32]] as const) {
        const ours = inferenceWorkload(shape, 8);
        ours.dispose();
        const layouts = ['contiguous', 'channels_last'] as const;
        expect(await peer.setup({ workload: 'inference', shape, batch: 8, warmup: 1, minSampleMs: 0, layouts })).toBe(ours.parameters);
        const ms = await peer.time();
        expect([...ms.keys()]).toEqual(['contiguous', 'channels_last']);
        for (const v of ms.values()) expect(v).toBeGreaterThan(0);
      }
      const gv = gvWorkload([1, 28, 28], 4);
      gv.dispose();
      expect(await peer.setup({ workload: 'gv', shape: [1, 28, 28], samples: 4, warmup: 1, minSampleMs: 0, layouts: ['contiguous'] })).toBe(gv.parameters);
      await expect(peer.setup({ workload: 'adam' as 'sgd', shape: [1, 28, 28], warmup: 1, minSampleMs: 0, layouts: ['contiguous'] })).rejects.toThrow(/PyTorch half failed on 'setup': ValueError: unknown workload 'adam'/);
      await peer.release();
    } finally {
      await peer.close();
    }
  }, 120000);
});
