// Hardening of `newton-cnn train` (issue 14): a diverging run exits 3 and leaves the previous
// checkpoint byte for byte; C and the learning rate that the regulariser alone would make
// diverge are refused (exit 2); the checkpoint path is checked before training; duplicated
// options are refused; SIGTERM and SIGHUP are handled like Ctrl-C (checkpoint, exit 143 / 129,
// bit-for-bit resume), and a second signal quits at once.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { loadCheckpoint } from '../lib/checkpoint';
import { main } from '../lib/cli';
import { parseTrainArgs } from '../lib/cli/args';
import { parseSpectrumArgs } from '../lib/cli/spectrum-args';
import { EXIT } from '../lib/cli/io';
import { fakeIo, TINY } from './cli.helpers';
import { distCli, ensureDist } from './fixtures/dist';

const cli = distCli;

let dir: string;
beforeAll(() => {
  ensureDist();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'newton-hardening-cli-'));
}, 300000);
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const bytesOf = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

async function train(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const f = fakeIo(dir);
  const code = await main(['train', ...argv], f.io);
  return { code, out: f.out.text, err: f.err.text };
}

describe('divergence', () => {
  test('SGD with a huge learning rate exits 3, says where and what to do, and leaves the previous checkpoint byte for byte', async () => {
    const file = path.join(dir, 'div.ckpt');
    expect((await train([...TINY, '--epochs', '1', '--checkpoint', file, '--quiet'])).code).toBe(0);
    const before = fs.readFileSync(file);
    const r = await train([...TINY, '--epochs', '2', '--lr', '1000', '--C', '10', '--checkpoint', file]);
    expect(r.code).toBe(EXIT.diverged);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/newton-cnn: trainSgd: diverged: .*epoch 1, batch \d\/4/);
    expect(r.err).toMatch(/learning rate/);
    expect(r.err).toMatch(/div\.ckpt .*kept/);
    expect(r.out).not.toMatch(/objective: NaN/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('--C 1e-300 and a learning rate the regulariser alone makes diverge are bad usage (exit 2), before training', async () => {
    const c = await train([...TINY, '--epochs', '1', '--C', '1e-300']);
    expect(c.code).toBe(2);
    expect(c.err).toMatch(/--C 1e-300 with 256 training images gives C·l = 2\.56e-298/);
    const n = await train(['--train-limit', '256', '--iterations', '1', '--C', '1e-300']);
    expect(n.code).toBe(2);
    expect(n.err).toMatch(/--C 1e-300/);
    const lr = await train([...TINY, '--epochs', '1', '--lr', '100']);
    expect(lr.code).toBe(2);
    expect(lr.err).toMatch(/--lr 100 .*2\(1 \+ μ\)/);
    expect(lr.out).not.toMatch(/epoch 1\/1/);
  });

  test('a tiny C·l is accepted with a warning', async () => {
    const r = await train([...TINY, '--iterations', '1', '--C', '1e-12', '--lr', '1e-12', '--quiet']);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/warning: --C 1e-12/);
  });
});

describe('the checkpoint path is checked before training', () => {
  test('a directory, a missing directory, a parent that is a file: exit 2, nothing written', async () => {
    const sub = fs.mkdtempSync(path.join(dir, 'ckdir-'));
    const a = await train([...TINY, '--epochs', '1', '--checkpoint', sub]);
    expect(a.code).toBe(2);
    expect(a.err).toMatch(/--checkpoint: .* is a directory/);
    expect(a.out).not.toMatch(/epoch 1\/1/);
    expect(fs.readdirSync(path.dirname(sub)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const b = await train([...TINY, '--epochs', '1', '--checkpoint', path.join(sub, 'no', 'x.ckpt')]);
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/--checkpoint: .*no such directory/);
    fs.writeFileSync(path.join(sub, 'f'), '');
    const c = await train([...NEWTON, '--checkpoint', path.join(sub, 'f', 'x.ckpt')]);
    expect(c.code).toBe(2);
    expect(c.err).toMatch(/--checkpoint: .*not a directory/);
    expect(fs.readdirSync(sub)).toEqual(['f']);
  });
});

const NEWTON = ['--train-limit', '256', '--test-limit', '128', '--sampling-rate', '0.1', '--cg-max', '3', '--iterations', '1'];

describe('duplicated options', () => {
  test('are refused, naming the option and both values', () => {
    expect(() => parseTrainArgs(['--epochs', '1', '--epochs', '2'], dir)).toThrow(/--epochs is given twice \('1', then '2'\); give it once/);
    expect(() => parseTrainArgs(['--quiet', '--quiet'], dir)).toThrow(/--quiet is given twice/);
    expect(() => parseTrainArgs(['--lr=1', '--optimizer', 'sgd', '--lr', '2'], dir)).toThrow(/--lr is given twice/);
    expect(() => parseSpectrumArgs(['--top', '1', '--top', '2'], dir)).toThrow(/--top is given twice/);
    expect(parseTrainArgs(['--optimizer', 'sgd', '--epochs', '3'], dir)!.epochs).toBe(3);
  });

  test('exit 2 from main', async () => {
    const r = await train(['--epochs', '1', '--epochs', '2']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--epochs is given twice/);
  });
});

// Spawns the bin; sends `signals` (one after another, the next once the previous is seen) after
// the first progress line; resolves with the exit code and the output.
function spawnTrain(argv: string[], signals: NodeJS.Signals[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string; out: string }> {
  const child = spawn(process.execPath, [cli, 'train', ...argv], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let sent = false;
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (!sent && /batch \d+\/\d+/.test(err)) {
      sent = true;
      child.kill(signals[0]);
      if (signals.length > 1) setImmediate(() => child.kill(signals[1]));
    }
  });
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, err, out })));
}

describe('SIGTERM and SIGHUP are handled like Ctrl-C', () => {
  const RUN = ['--optimizer', 'sgd', '--train-limit', '1024', '--test-limit', '128', '--batch-size', '64', '--epochs', '2'];

  test('SIGTERM: finishes the batch, writes a checkpoint, exits 143; the resumed run is bit-identical to an uninterrupted one', async () => {
    const straight = path.join(dir, 'term-straight.ckpt');
    const cut = path.join(dir, 'term.ckpt');
    const r = await spawnTrain([...RUN, '--checkpoint', cut], ['SIGTERM']);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(143);
    expect(r.err).toMatch(/SIGTERM: finishing the current batch and writing a checkpoint/);
    expect(r.err).toMatch(/checkpoint written to .*term\.ckpt/);
    expect(r.out).not.toMatch(/test accuracy:/);
    const mid = await loadCheckpoint(cut);
    expect(mid.state.epoch * 16 + mid.state.batch).toBeLessThan(32);
    expect((await train(['--resume', cut, '--quiet'])).code).toBe(0);
    expect((await train([...RUN, '--checkpoint', straight, '--quiet'])).code).toBe(0);
    const a = await loadCheckpoint(straight);
    const b = await loadCheckpoint(cut);
    expect(b.state).toMatchObject({ epoch: 2, batch: 0 });
    expect(b.state.optimizer.iteration).toBe(a.state.optimizer.iteration);
    expect(bytesOf(b.state.parameters).equals(bytesOf(a.state.parameters))).toBe(true);
    expect(bytesOf(b.state.optimizer.velocity).equals(bytesOf(a.state.optimizer.velocity))).toBe(true);
  }, 120000);

  test('SIGHUP: checkpoint written, exit 129', async () => {
    const file = path.join(dir, 'hup.ckpt');
    const r = await spawnTrain([...RUN, '--checkpoint', file], ['SIGHUP']);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(129);
    expect((await loadCheckpoint(file)).state.optimizer.iteration).toBeGreaterThan(0);
  }, 120000);

  test('a second signal quits at once (SIGTERM then SIGTERM: 143), leaving no temporary file', async () => {
    const file = path.join(dir, 'twice-term.ckpt');
    const r = await spawnTrain([...RUN, '--checkpoint', file, '--checkpoint-every', '1'], ['SIGTERM', 'SIGTERM']);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(143);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('.twice-term'))).toEqual([]);
  }, 120000);

  test('Newton: SIGTERM discards the unfinished iteration, checkpoints and exits 143', async () => {
    const file = path.join(dir, 'newton-term.ckpt');
    const child = spawn(process.execPath, [cli, 'train', '--train-limit', '512', '--test-limit', '64', '--sampling-rate', '0.1', '--cg-max', '5', '--iterations', '50', '--checkpoint', file], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!sent && /iteration 1\/50/.test(out)) {
        sent = true;
        child.kill('SIGTERM');
      }
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
    expect(signal).toBeNull();
    expect(code).toBe(143);
    expect(err).toMatch(/checkpoint written to/);
    expect((await loadCheckpoint(file)).state.optimizer.iteration).toBeGreaterThanOrEqual(1);
  }, 120000);
});
