// `npm run bench -- newton`, part 2: the time split of Newton iterations (f and ∇f over all data
// with S last / CG / line search) for cnn3 on 28×28×1 with l synthetic images (default 60,000, the
// MNIST size) and 5% sampling (|S| = 3000), the paper's settings otherwise.
import { createDataset } from '../../lib/data';
import { cnn3, squaredLoss } from '../../lib/nn';
import { trainNewton, type NewtonIteration } from '../../lib/train';
import { Column, fmt, formatTable } from './common';

/** Seconds per part of each timed iteration. */
export interface IterationRow {
  iteration: number;
  gradientS: number;
  cgS: number;
  cgSteps: number;
  msPerCgStep: number;
  lineSearchS: number;
  lineSearchSteps: number;
  totalS: number;
}

/** Synthetic images of `shape` = [C, H, W] in [−0.5, 0.5) with labels tied to the pixels (learnable, so CG and the line search behave as on real data). */
export function synthetic(l: number, shape: readonly [number, number, number] = [1, 28, 28]): ReturnType<typeof createDataset> {
  const size = shape[0] * shape[1] * shape[2];
  const images = new Float32Array(l * size);
  const labels = new Int32Array(l);
  let s = 12345;
  for (let i = 0; i < l; i++) {
    const c = i % 10;
    labels[i] = c;
    for (let p = 0; p < size; p++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      images[i * size + p] = s / 4294967296 - 0.5 + (p % 10 === c ? 0.3 : 0);
    }
  }
  return createDataset({ name: 'synthetic', images, labels, shape: [shape[0], shape[1], shape[2]], classes: 10 });
}

/** Runs `iterations` Newton iterations on l synthetic images and returns their time split. */
export async function iterationRows(l: number, samplingRate: number, iterations: number, batchSize: number): Promise<IterationRow[]> {
  const train = synthetic(l);
  const model = cnn3(train.shape, train.classes, { seed: 0 });
  const its: NewtonIteration[] = [];
  try {
    await trainNewton(model, train, { iterations, loss: squaredLoss, batchSize, evaluateEvery: 0, newton: { samplingRate }, onIteration: (it) => its.push(it) });
  } finally {
    model.dispose();
  }
  return its.map((it) => ({
    iteration: it.iteration,
    gradientS: it.times.gradient,
    cgS: it.times.cg,
    cgSteps: it.cgSteps,
    msPerCgStep: (1000 * it.times.cg) / Math.max(1, it.cgSteps),
    lineSearchS: it.times.lineSearch,
    lineSearchSteps: it.lineSearchSteps,
    totalS: it.times.gradient + it.times.cg + it.times.lineSearch,
  }));
}

/** Prints part 2's table. */
export function printIterationRows(rows: readonly IterationRow[], l: number, samplingRate: number): void {
  console.log(`\nPart 2: Newton iterations, cnn3, l = ${l} synthetic 28x28x1 images, sampling ${samplingRate} (|S| = ${Math.ceil(samplingRate * l)}), paper settings`);
  const columns: Column[] = [
    { title: 'iteration', align: 'right' },
    { title: 'f,∇f s', align: 'right' },
    { title: 'CG s', align: 'right' },
    { title: 'CG steps', align: 'right' },
    { title: 'ms / Gv step', align: 'right' },
    { title: 'line search s', align: 'right' },
    { title: 'f evals', align: 'right' },
    { title: 'total s', align: 'right' },
    { title: 'split f,∇f / CG / LS', align: 'left' },
  ];
  console.log(
    formatTable(
      columns,
      rows.map((r) => [
        String(r.iteration),
        fmt(r.gradientS, 1),
        fmt(r.cgS, 1),
        String(r.cgSteps),
        fmt(r.msPerCgStep),
        fmt(r.lineSearchS, 1),
        String(r.lineSearchSteps),
        fmt(r.totalS, 1),
        `${Math.round((100 * r.gradientS) / r.totalS)}% / ${Math.round((100 * r.cgS) / r.totalS)}% / ${Math.round((100 * r.lineSearchS) / r.totalS)}%`,
      ]),
    ),
  );
}
