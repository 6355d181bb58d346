// The profiler (lib/profile.ts, native/core/profile.h): totals against the wall time, the
// Chrome trace, and that profiling changes no result.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, profile, randomUniform } from '../lib';
import { cnn3, crossEntropyLoss } from '../lib/nn';
import { Sgd } from '../lib/optim';

const BATCH = 16;

// A few SGD steps of cnn3 with the trainer's scopes; returns θ.
function sgdSteps(steps: number): Float32Array {
  const model = cnn3([1, 28, 28], 10, { seed: 0 });
  const sgd = new Sgd(model, {}, 60000);
  const x = randomUniform([BATCH, 1, 28, 28], { seed: 3, low: -0.5, high: 0.5 });
  const oneHot = new Float32Array(BATCH * 10);
  for (let i = 0; i < BATCH; i++) oneHot[i * 10 + (i % 10)] = 1;
  const y = Tensor.from(oneHot, { shape: [BATCH, 10] });
  for (let s = 0; s < steps; s++) {
    using _step = profile.scope('sgd step');
    profile.scope('gradient', () => {
      const z = model.forward(x, { training: true });
      const dz = crossEntropyLoss.gradient(z, y);
      model.backward(dz);
      dz.dispose();
      z.dispose();
    });
    profile.scope('update', () => sgd.step(BATCH));
    model.releaseCache();
  }
  const theta = model.parameters.toArray() as Float32Array;
  sgd.dispose();
  model.dispose();
  x.dispose();
  y.dispose();
  return theta;
}

afterEach(() => {
  if (profile.enabled) profile.stop();
});

describe('profile', () => {
  it('changes no result: θ after SGD steps is bit-identical with profiling on and off', () => {
    const off = sgdSteps(3);
    profile.start();
    const on = sgdSteps(3);
    profile.stop();
    expect(Buffer.from(on.buffer).equals(Buffer.from(off.buffer))).toBe(true);
  });

  it("matches the wall time: the session and the outer scope within 5% (+2 ms) of the caller's clock, ops inside it", () => {
    profile.start();
    const t0 = performance.now();
    profile.scope('work', () => sgdSteps(4));
    const t1 = performance.now();
    profile.stop();
    const js = t1 - t0;
    const r = profile.report({ rates: false });
    const work = r.scopes.find((s) => s.path === 'work')!;
    expect(work.calls).toBe(1);
    // Margin: the native clock reads sit a few calls inside the JS ones.
    expect(Math.abs(work.totalMs - js)).toBeLessThanOrEqual(0.05 * js + 2);
    expect(r.wallMs).toBeGreaterThanOrEqual(work.totalMs);
    expect(r.wallMs).toBeLessThanOrEqual(js * 1.05 + 2);
    // One thread: the op times never overlap, so they sum to at most the session, and in a
    // compute-bound run (convolutions) they are most of it.
    expect(r.opMs).toBeLessThanOrEqual(r.wallMs);
    expect(r.opMs).toBeGreaterThan(0.5 * work.totalMs);
    const steps = r.scopes.find((s) => s.path === 'work/sgd step')!;
    expect(steps.calls).toBe(4);
    expect(r.scopes.map((s) => s.path)).toEqual(expect.arrayContaining(['work/sgd step/gradient', 'work/sgd step/update']));
    // cnn3's three convolutions, each with its ReLU in one conv2dRelu (the executor's conv →
    // ReLU rewrite, note [fusion rewrites] in lib/nn/executor.ts)
    const conv = r.ops.find((o) => o.name === 'conv2dRelu' && o.caller === '')!;
    expect(conv.calls).toBe(4 * 3);
    expect(conv.gflops).toBeGreaterThan(0);
    const total = r.ops.reduce((sum, o) => sum + o.totalMs, 0);
    expect(total).toBeCloseTo(r.opMs, 6);
    expect(r.table).toContain('conv2dRelu');
    expect(r.table).toContain('work/sgd step/gradient');
  });

  it('writes a Chrome trace that parses, with the scopes and ops on their own tracks', () => {
    profile.start();
    profile.scope('work', () => sgdSteps(1));
    profile.stop();
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'newton-profile-')), 'trace.json');
    profile.writeTrace(file);
    const trace = JSON.parse(fs.readFileSync(file, 'utf8')) as { traceEvents: { name: string; ph: string; cat?: string; pid: number; tid: number; ts?: number; dur?: number; args?: Record<string, unknown> }[] };
    const events = trace.traceEvents;
    const scopes = events.filter((e) => e.cat === 'scope');
    expect(scopes.map((e) => e.name)).toEqual(expect.arrayContaining(['work', 'sgd step', 'gradient', 'update']));
    const ops = events.filter((e) => e.cat === 'op');
    expect(ops.some((e) => e.name === 'conv2dRelu' && typeof e.args?.flops === 'number')).toBe(true);
    // Scopes and ops of a thread on two tracks, both named.
    const scopeTid = scopes[0].tid;
    expect(ops.every((e) => e.tid !== scopeTid)).toBe(true);
    const names = events.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => (e.args as { name: string }).name);
    expect(names).toEqual(expect.arrayContaining([expect.stringMatching(/scopes$/), expect.stringMatching(/ops$/)]));
    for (const e of [...scopes, ...ops]) {
      expect(e.ph).toBe('X');
      expect(e.dur).toBeGreaterThanOrEqual(0);
      expect(e.ts).toBeGreaterThanOrEqual(0);
    }
  });

  it('is free of records when off and refuses misuse with messages naming the function', () => {
    expect(profile.enabled).toBe(false);
    const s = profile.scope('ignored');
    s.close();
    expect(() => profile.stop()).toThrow(/profileStop: no profiling session is running/);
    profile.start();
    expect(() => profile.start()).toThrow(/profileStart: a profiling session is already running/);
    profile.stop();
    expect(() => profile.scope('')).toThrow(/profile.scope: name must be a non-empty string/);
    expect(() => profile.writeTrace('')).toThrow(/profile.writeTrace: path must be a non-empty string/);
    expect(() => profile.report({ rates: 1 as unknown as boolean })).toThrow(/profile.report: options.rates must be a boolean/);
    expect(() => profile.writeTrace('/nonexistent-dir/x/trace.json')).toThrow(/profileWriteTrace: cannot open/);
  });
});
