// `npm run bench -- profile`: the profiler's overhead on the cnn3 SGD step (28×28×1, batch 128):
// the same step (forward, cross-entropy gradient, backward, SGD update, with the trainer's
// scopes) timed with profiling off and on, in alternating blocks so that a shared machine's
// load drifts into both alike. Target: on ≤ 3% slower than off (note [profiler cost] in
// native/core/profile.h). Prints the per-op table of the last profiled block.
import { Tensor, getNumThreads, info, profile, randomUniform } from '../../lib';
import { cnn3 as cnn3Model, crossEntropyLoss } from '../../lib/nn';
import { Sgd } from '../../lib/optim';
import { BenchSuite, fmt, loadAverage, machineInfo, parseOptions, positiveInt, writeJson } from './common';

export const TARGET_OVERHEAD = 0.03;
const CLASSES = 10;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function run(argv: readonly string[]): Promise<number> {
  const opts = parseOptions(argv, { flags: ['--quick'], values: ['--json', '--batch', '--blocks', '--steps'] });
  const quick = opts.get('--quick') === true;
  const batch = positiveInt(opts, '--batch', quick ? 32 : 128);
  const blocks = positiveInt(opts, '--blocks', quick ? 2 : 8);
  const steps = positiveInt(opts, '--steps', quick ? 2 : 5);
  const runtime = info();
  console.log(`newton-cnn ${runtime.version}: profiler overhead on the cnn3 SGD step (28×28×1, batch ${batch})`);
  console.log(`GEMM: ${runtime.gemm} (${runtime.blas}), ${getNumThreads()} threads, load average ${fmt(loadAverage(), 2)}`);
  const model = cnn3Model([1, 28, 28], CLASSES, { seed: 0 });
  const sgd = new Sgd(model, {}, 60000);
  const x = randomUniform([batch, 1, 28, 28], { seed: 3, low: -0.5, high: 0.5 });
  const oneHot = new Float32Array(batch * CLASSES);
  for (let i = 0; i < batch; i++) oneHot[i * CLASSES + (i % CLASSES)] = 1;
  const y = Tensor.from(oneHot, { shape: [batch, CLASSES] });
  // One step as trainSgd runs it, scopes included (no-ops while profiling is off).
  const step = (): void => {
    using _step = profile.scope('sgd step');
    profile.scope('gradient', () => {
      const z = model.forward(x, { training: true });
      crossEntropyLoss.value(z, y);
      const dz = crossEntropyLoss.gradient(z, y);
      model.backward(dz);
      dz.dispose();
      z.dispose();
    });
    profile.scope('update', () => sgd.step(batch));
    model.releaseCache();
  };
  const block = (on: boolean): number[] => {
    const times: number[] = [];
    if (on) profile.start();
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      step();
      times.push(performance.now() - t0);
    }
    if (on) profile.stop();
    return times;
  };
  block(false); // warm-up: allocator caches, BLAS threads
  block(true);
  const off: number[] = [];
  const on: number[] = [];
  for (let b = 0; b < blocks; b++) {
    // Alternate which goes first, so neither always follows the other.
    if (b % 2 === 0) {
      off.push(...block(false));
      on.push(...block(true));
    } else {
      on.push(...block(true));
      off.push(...block(false));
    }
  }
  const offMs = median(off);
  const onMs = median(on);
  const overhead = onMs / offMs - 1;
  console.log(`\nsteps per mode: ${off.length}`);
  console.log(`profiling off: ${fmt(offMs, 2)} ms/step (median)`);
  console.log(`profiling on:  ${fmt(onMs, 2)} ms/step (median)`);
  console.log(`overhead: ${fmt(100 * overhead, 2)}% (target ≤ ${100 * TARGET_OVERHEAD}%: ${overhead <= TARGET_OVERHEAD ? 'met' : 'NOT met'})\n`);
  console.log(profile.report().table);
  const json = opts.get('--json');
  if (typeof json === 'string') {
    writeJson(json, { suite: 'profile', machine: machineInfo(), runtime, batch, stepsPerMode: off.length, offMs, onMs, overhead });
  }
  sgd.dispose();
  model.dispose();
  x.dispose();
  y.dispose();
  return 0;
}

export const suite: BenchSuite = {
  name: 'profile',
  description: 'Profiler overhead on the cnn3 SGD step (batch 128): profiling off vs on, target ≤ 3%; the per-op table',
  usage: [
    '  --batch N    batch size (default 128; --quick: 32)',
    '  --blocks N   alternating off/on blocks (default 8; --quick: 2)',
    '  --steps N    steps per block (default 5; --quick: 2)',
    '  --quick      a short smoke run',
    '  --json FILE  write the figures as JSON',
  ].join('\n'),
  run,
};
