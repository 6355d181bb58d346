// The real `newton-cnn` executable (dist/lib/cli.js, the package's bin): a short training run
// prints `test accuracy:`, bad usage exits with 2, and SIGINT stops training with exit code 130
// and a loadable checkpoint.
//
// dist/ is normally built by `npm install` (package.json "prepare" runs tsc). When dist/lib/cli.js
// is missing or older than a lib/ source, this test builds it first with `tsc -p tsconfig.json`.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { loadCheckpoint } from '../lib/checkpoint';
import { distCli, ensureDist } from './fixtures/dist';

const cli = distCli;

let dir: string;
beforeAll(() => {
  ensureDist();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'newton-cli-spawn-'));
}, 300000);
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the bin starts with a shebang', () => {
  expect(fs.readFileSync(cli, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
});

test('train --epochs 1 on a subset prints the test accuracy', () => {
  const r = spawnSync(process.execPath, [cli, 'train', '--optimizer', 'sgd', '--epochs', '1', '--train-limit', '512', '--test-limit', '256'], { cwd: dir, encoding: 'utf8', timeout: 120000 });
  expect(r.stderr).not.toMatch(/error/);
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/^test accuracy: [01]\.\d{4}$/m);
  expect(r.stdout).toMatch(/^train accuracy: [01]\.\d{4}$/m);
  expect(r.stdout).toMatch(/^objective: \S+$/m);
  expect(r.stdout).toMatch(/^time: \d+\.\ds/m);
  expect(r.stderr).toMatch(/^epoch 1\/1 {2}batch \d+\/4/m); // plain progress: stderr is a pipe
});

test('bad usage exits with 2', () => {
  const r = spawnSync(process.execPath, [cli, 'train', '--model', 'alexnet'], { cwd: dir, encoding: 'utf8', timeout: 60000 });
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/--model must be one of: cnn3, cnn5, resnet18, .* or another resnet<6n\+2> \(got 'alexnet'\)/);
});

test('SIGINT: stops after the batch, writes a loadable checkpoint, says how to resume, exits 130', async () => {
  const file = path.join(dir, 'sigint.ckpt');
  const child = spawn(process.execPath, [cli, 'train', '--optimizer', 'sgd', '--epochs', '5', '--train-limit', '2048', '--test-limit', '128', '--checkpoint', file], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let sent = false;
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (!sent && /batch \d+\/16/.test(err)) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  expect(sent).toBe(true);
  expect(code).toBe(130);
  expect(err).toMatch(/interrupted: finishing the current batch/);
  expect(err).toMatch(/checkpoint written to .*sigint\.ckpt/);
  expect(err).toMatch(/resume with: newton-cnn train --resume sigint\.ckpt/);
  expect(out).not.toMatch(/test accuracy:/);
  const c = await loadCheckpoint(file);
  expect(c.state.epoch).toBeLessThan(5);
  expect(c.state.optimizer.iteration).toBeGreaterThan(0);
  expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
}, 120000);

test('a second SIGINT exits at once with 130, leaving no temporary or partial checkpoint', async () => {
  const file = path.join(dir, 'twice.ckpt');
  const child = spawn(process.execPath, [cli, 'train', '--optimizer', 'sgd', '--epochs', '5', '--train-limit', '2048', '--test-limit', '128', '--checkpoint', file, '--checkpoint-every', '1'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let sent = false;
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (!sent && /batch [2-9]\/16/.test(err)) {
      sent = true;
      child.kill('SIGINT');
      setImmediate(() => child.kill('SIGINT'));
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  expect(sent).toBe(true);
  expect(code).toBe(130);
  expect(fs.readdirSync(dir).filter((f) => f.startsWith('.twice'))).toEqual([]);
  if (fs.existsSync(file)) expect((await loadCheckpoint(file)).state.optimizer.iteration).toBeGreaterThan(0); // an earlier, whole checkpoint
}, 120000);
