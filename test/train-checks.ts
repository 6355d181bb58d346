// A training check shared by the network tests: the subsampled Newton method on a model makes an
// accepted step every iteration, f falls every iteration, and by at least `factor` overall.
import type { Dataset } from '../lib/data';
import { crossEntropyLoss } from '../lib/nn';
import type { Network } from '../lib/nn';
import { trainNewton, type NewtonIteration, type TrainNewtonOptions } from '../lib/train';

/** Runs trainNewton (cross-entropy unless told) and checks the descent; returns the iterations. */
export async function expectNewtonDescends(
  model: Network,
  data: Dataset,
  options: Omit<TrainNewtonOptions, 'loss' | 'iterations'> & { loss?: TrainNewtonOptions['loss']; iterations: number },
  factor = 0.9,
): Promise<NewtonIteration[]> {
  const its: NewtonIteration[] = [];
  const r = await trainNewton(model, data, { evaluateEvery: 0, ...options, loss: options.loss ?? crossEntropyLoss, onIteration: (it) => its.push(it) });
  expect(r.iterations).toBe(options.iterations);
  for (const it of its) {
    expect(it.accepted).toBe(true);
    expect(it.objective).toBeLessThan(it.initialObjective);
  }
  expect(its[its.length - 1].objective).toBeLessThan(factor * its[0].initialObjective);
  return its;
}
