/**
 * `newton-cnn profile`: a short training run of cnn3 or ResNet-20 on synthetic data under the
 * profiler, then the per-op table; and withProfile, which `newton-cnn train --profile FILE` runs
 * the training in.
 *
 * @packageDocumentation
 */
import { createDataset, type Dataset } from '../../data';
import { crossEntropyLoss } from '../../nn/losses';
import { modelByName } from '../../nn/models';
import { profile } from '../../profile';
import { setNumThreads } from '../../runtime';
import { trainNewton, trainSgd } from '../../train';
import type { CliIo } from '../io';
import type { ProfileArgs } from '../profile-args';

/**
 * Runs `fn` under the profiler when `trace` is given: writes the Chrome trace there and prints
 * the per-op table to stdout at the end (also when fn throws, for what ran until then).
 */
export async function withProfile<T>(trace: string | undefined, io: CliIo, fn: () => Promise<T>): Promise<T> {
  if (trace === undefined) return fn();
  profile.start();
  try {
    return await profile.scope('run', fn);
  } finally {
    profile.stop();
    profile.writeTrace(trace);
    io.stdout.write(`${profile.report().table}profile: trace written to ${trace}\n`);
  }
}

// Random images (uniform in [0, 1)) and labels of 10 classes, from a fixed seed.
function synthetic(n: number, shape: [number, number, number]): Dataset {
  const size = shape[0] * shape[1] * shape[2];
  const images = new Float32Array(n * size);
  const labels = new Int32Array(n);
  let state = 12345;
  const next = (): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 4294967296;
  };
  for (let i = 0; i < images.length; i++) images[i] = next();
  for (let i = 0; i < n; i++) labels[i] = i % 10;
  return createDataset({ name: 'synthetic', images, labels, shape, classes: 10 });
}

export async function runProfile(args: ProfileArgs, io: CliIo): Promise<number> {
  if (args.threads !== undefined) setNumThreads(args.threads);
  const shape: [number, number, number] = args.model === 'cnn3' ? [1, 28, 28] : [3, 32, 32];
  const model = modelByName(args.model, shape, 10, { device: args.device, seed: 1 });
  {
    // Newton: |S| = batch at a 10% sampling rate, CG capped at 10 steps to keep the run short.
    const l = args.optimizer === 'sgd' ? args.steps * args.batch : 10 * args.batch;
    const data = synthetic(l, shape);
    io.stdout.write(`profile: ${args.model}, ${args.optimizer}, ${args.steps} ${args.optimizer === 'sgd' ? 'steps' : 'iterations'}, batch ${args.batch}, ${args.device}\n`);
    profile.start();
    try {
      if (args.optimizer === 'sgd') {
        await trainSgd(model, data, { epochs: 1, batchSize: args.batch, loss: crossEntropyLoss, evaluateEvery: 'never' });
      } else {
        await trainNewton(model, data, {
          iterations: args.steps,
          loss: crossEntropyLoss,
          batchSize: args.batch,
          newton: { samplingRate: 0.1, cgMaxIterations: 10 },
        });
      }
    } finally {
      profile.stop();
    }
    io.stdout.write(profile.report().table);
    if (args.trace !== undefined) {
      profile.writeTrace(args.trace);
      io.stdout.write(`profile: trace written to ${args.trace}\n`);
    }
    return 0;
  }
}
