// Our half of `npm run bench -- vs-torch`: the four workloads of issue 13 for cnn3 (float32,
// squared loss) on one input shape, each built once and then run as often as the suite asks, so
// that its samples can alternate with PyTorch's (scripts/bench/vs_torch.py does the same work).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, axpy, copy, randomUniform, scale } from '../../lib';
import type { Dataset } from '../../lib/data';
import { cnn3, squaredLoss } from '../../lib/nn';
import { cgSteps } from '../../lib/optim/cg';
import { evaluateObjective } from '../../lib/train/objective';
import { syntheticBatch } from './newton';
import { synthetic } from './newton-iteration';
import { sgdStepWorkload } from './train';

/** [C, H, W] of the input images. */
export type InputShape = readonly [number, number, number];

/** One unit of timed work and what it holds. */
export interface Workload {
  /** Parameters of the network (must equal PyTorch's). */
  readonly parameters: number;
  run(): void;
  dispose(): void;
}

const CLASSES = 10;
/** The Newton paper's C and λ0 (lib/train/newton-trainer.ts DEFAULT_NEWTON_OPTIONS), and l of the SGD step's Cl. */
const C = 0.01;
const LAMBDA = 1;
const SGD_TRAIN_SIZE = 60000;

/** SGD step at `batch`: forward (training mode), loss, backward, momentum update (scripts/bench/train.ts). */
export function sgdWorkload(input: InputShape, batch: number): Workload {
  const w = sgdStepWorkload([input[0], input[1], input[2]], batch);
  return { parameters: w.parameters, run: w.step, dispose: w.dispose };
}

/** Inference at `batch`: a forward pass that keeps no cache. */
export function inferenceWorkload(input: InputShape, batch: number): Workload {
  const model = cnn3(input, CLASSES, { seed: 0 });
  const x = randomUniform([batch, ...input], { seed: 3, low: -0.5, high: 0.5 });
  return {
    parameters: model.numParameters,
    run: () => model.predict(x).dispose(),
    dispose: () => {
      x.dispose();
      model.dispose();
    },
  };
}

/** One Gauss-Newton product (G_S + λI)v at |S| = samples, on the cache of one forward pass (as in CG; scripts/bench/newton.ts). */
export function gvWorkload(input: InputShape, samples: number): Workload {
  const model = cnn3(input, CLASSES, { seed: 0 });
  const { x, y } = syntheticBatch(samples, 3, input);
  const v = randomUniform([model.numParameters], { seed: 4, low: -1, high: 1 });
  const z = model.forward(x);
  const options = { loss: squaredLoss, lambda: LAMBDA, C, trainSize: SGD_TRAIN_SIZE };
  return {
    parameters: model.numParameters,
    run: () => model.gaussNewtonProduct(v, options).dispose(),
    dispose: () => {
      model.releaseCache();
      for (const t of [x, y, v, z]) t.dispose();
      model.dispose();
    },
  };
}

/** The fixed amount of work of one subsampled-Newton iteration (issue 13). */
export interface NewtonWork {
  trainSize: number; // l
  samples: number; // |S|
  batchSize: number; // mini-batch of the passes over the l images
  cgSteps: number;
  lineSearchPasses: number;
}

export interface NewtonWorkload extends Workload {
  /** The l images as float32 (N, C, H, W), for PyTorch to read the same data. */
  readonly imagesFile: string;
}

// Note [fixed Newton iteration]
// lib/train/newton-trainer.ts's iteration does a data-dependent amount of work (CG stops at a
// tolerance, the line search at sufficient decrease); to compare two libraries the work must be
// equal, so this one runs its phases with the trainer's own functions but fixed counts: f and ∇f
// over the l images (evaluateObjective, S = the last |S| images as one batch, its cache kept),
// exactly cgSteps CG steps on (G_S + λI)d = −∇f (cgSteps with a tolerance it cannot reach), and
// lineSearchPasses passes of f at θ + αd (α = 1, 1/2, …); θ is restored after, so every run
// does the same work. The images are scripts/bench/newton-iteration.ts's synthetic data, written
// to a file so that PyTorch reads the very same values.
export function newtonWorkload(input: InputShape, work: NewtonWork): NewtonWorkload {
  const { trainSize: l, samples: s } = work;
  if (s > l) throw new RangeError(`the subsample (${s}) is larger than the training set (${l})`);
  const train: Dataset = synthetic(l, input);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'newton-cnn-vs-torch-'));
  const removeDir = (): void => fs.rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir); // also when the run stops early (a GiB at l = 60,000 on 32×32×3)
  const imagesFile = path.join(dir, `images-${l}x${input.join('x')}.f32`);
  const images = train.images as Float32Array;
  try {
    fs.writeFileSync(imagesFile, new Uint8Array(images.buffer, images.byteOffset, images.byteLength));
  } catch (e) {
    removeDir();
    throw e;
  }
  const model = cnn3(input, CLASSES, { seed: 0 });
  const subsample = new Int32Array(s);
  for (let i = 0; i < s; i++) subsample[i] = l - s + i;
  const objective = { C, loss: squaredLoss, batchSize: work.batchSize, trainSize: l, subsample };
  const run = (): void => {
    const fg = evaluateObjective(model, train, { ...objective, gradient: true, keepSubsample: true });
    const gradient = fg.gradient!;
    const rhs = scale(gradient, -1);
    const theta0 = model.parameters.clone();
    const gv = { loss: squaredLoss, lambda: LAMBDA, C, trainSize: l };
    let d: Tensor | undefined;
    let residual: Tensor | undefined;
    try {
      const cg = cgSteps((v) => model.gaussNewtonProduct(v, gv), rhs, { tolerance: Number.MIN_VALUE, maxIterations: work.cgSteps });
      let step = cg.next();
      while (!step.done) step = cg.next();
      ({ x: d, residual } = step.value);
      if (step.value.steps !== work.cgSteps) throw new Error(`CG stopped after ${step.value.steps} of ${work.cgSteps} steps (${step.value.stop})`);
      fg.kept!.release();
      let alpha = 1;
      for (let k = 0; k < work.lineSearchPasses; k++) {
        copy(model.parameters, theta0);
        axpy(model.parameters, alpha, d);
        evaluateObjective(model, train, objective);
        alpha /= 2;
      }
    } finally {
      copy(model.parameters, theta0);
      fg.kept?.release();
      for (const t of [gradient, rhs, theta0, d, residual]) t?.dispose();
    }
  };
  return {
    parameters: model.numParameters,
    imagesFile,
    run,
    dispose: () => {
      model.dispose();
      removeDir();
      process.removeListener('exit', removeDir);
    },
  };
}
