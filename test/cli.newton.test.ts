// `newton-cnn train` with the Newton method (the default optimizer) through main() on a tiny subset:
// one line per iteration and the final lines, --json, checkpoints with the Newton state,
// bit-for-bit resumption, Ctrl-C before the run, and options of the wrong optimizer.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { loadCheckpoint } from '../lib/checkpoint';
import { main } from '../lib/cli';
import { fakeIo, NEWTON_TINY } from './cli.helpers';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'newton-cli-newton-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const bytesOf = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

async function train(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const f = fakeIo(dir);
  const code = await main(['train', ...NEWTON_TINY, ...argv], f.io);
  return { code, out: f.out.text, err: f.err.text };
}

test('default optimizer: header, one line per iteration, final lines; --json', async () => {
  const r = await train(['--iterations', '2']);
  expect(r.code).toBe(0);
  const lines = r.out.trim().split('\n');
  expect(lines[0]).toMatch(/^newton-cnn \S+: train cnn3 with newton$/);
  expect(r.out).toMatch(/^optimizer: newton, sampling rate 0\.1 \(\|S\| = 26, epoch\), CG σ 0\.1 max 10, λ0 1, Gv rop, C 0\.01/m);
  expect(r.out).toMatch(
    /^iteration 1\/2 {2}f \d+\.\d{6}( {2}\|grad\| \S+)? {2}CG \d+ {2}λ 1\.00 {2}(ρ \S+ {2}α \S+|no step \(λ raised\)) {2}\d+\.\ds {2}test [01]\.\d{4}$/m,
  );
  expect(r.out).toMatch(/^iteration 2\/2 /m);
  for (const line of r.out.split('\n').filter((x) => x.startsWith('iteration '))) expect(line.length).toBeLessThanOrEqual(80);
  expect(r.out).toMatch(/^test accuracy: [01]\.\d{4}\ntrain accuracy: [01]\.\d{4}\nobjective: \S+\ntime: \d+\.\ds$/m);
  const j = await train(['--iterations', '1', '--json']);
  expect(j.code).toBe(0);
  const o = JSON.parse(j.out) as { history: Array<{ iteration: number; cgSteps: number; times: { cg: number } }>; iteration: number; testAccuracy: number; options: { optimizer: string } };
  expect(o.options.optimizer).toBe('newton');
  expect(o.iteration).toBe(1);
  expect(o.history[0].iteration).toBe(1);
  expect(j.err).toMatch(/^iteration 1\/1 /m); // iteration lines go to stderr with --json
}, 60_000);

test('checkpoints hold the Newton state; 2 iterations = 1 + resume to 2, bit for bit', async () => {
  const straight = path.join(dir, 'straight.ckpt');
  const split = path.join(dir, 'split.ckpt');
  expect((await train(['--iterations', '2', '--checkpoint', straight, '--quiet'])).code).toBe(0);
  expect((await train(['--iterations', '1', '--checkpoint', split, '--quiet'])).code).toBe(0);
  const mid = await loadCheckpoint(split);
  expect(mid.optimizer).toBe('newton');
  expect(mid.state.optimizer.iteration).toBe(1);
  expect(mid.state.newton?.lambda).toBeGreaterThan(0);
  expect(mid.options).toMatchObject({ optimizer: 'newton', samplingRate: 0.1, cgMax: 10, cgTol: 0.1, lambda: 1, gvMode: 'rop', sampling: 'epoch' });
  const f = fakeIo(dir);
  expect(await main(['train', '--resume', split, '--iterations', '2'], f.io)).toBe(0);
  expect(f.out.text).toMatch(/resuming .*split\.ckpt after iteration 1/);
  expect(f.out.text).toMatch(/^iteration 2\/2 /m);
  const a = await loadCheckpoint(straight);
  const b = await loadCheckpoint(split);
  expect(b.state.optimizer.iteration).toBe(2);
  expect(bytesOf(b.state.parameters).equals(bytesOf(a.state.parameters))).toBe(true);
  expect(b.state.newton).toEqual(a.state.newton);
  // options contradicting the checkpoint, and SGD options on a Newton checkpoint
  const bad = fakeIo(dir);
  expect(await main(['train', '--resume', split, '--sampling-rate', '0.2'], bad.io)).toBe(2);
  expect(bad.err.text).toMatch(/--sampling-rate 0\.2 differs from the checkpoint's 0\.1/);
  const sgd = fakeIo(dir);
  expect(await main(['train', '--resume', split, '--lr', '0.1'], sgd.io)).toBe(2);
  expect(sgd.err.text).toMatch(/--lr 0\.1 differs from the checkpoint's|--lr is an SGD option/);
}, 90_000);

test('Ctrl-C: writes a resumable checkpoint and exits 130', async () => {
  const f = fakeIo(dir);
  f.interrupt.abort();
  const file = path.join(dir, 'cut.ckpt');
  expect(await main(['train', ...NEWTON_TINY, '--iterations', '2', '--checkpoint', file], f.io)).toBe(130);
  expect(f.err.text).toMatch(/interrupted after Newton iteration 0 .*checkpoint written to .*cut\.ckpt/);
  const c = await loadCheckpoint(file);
  expect(c.optimizer).toBe('newton');
  expect(c.state.optimizer.iteration).toBe(0);
}, 60_000);
