// ResNet-20 (batch norm, shortcuts) learns a small real problem — 512 examples of the bundled
// Fashion-MNIST — with SGD and with the subsampled Newton method, from He-initialised weights
// whose test accuracy is near chance (10 classes). Thresholds sit well below what the runs reach
// on this machine (SGD 0.68 after 3 epochs, Newton 0.49 after 5 iterations) and far above chance.
import { loadDataset, paperPreprocess, subset, type Dataset } from '../lib/data';
import { cifarResNet, crossEntropyLoss } from '../lib/nn';
import { evaluateAccuracy, trainNewton, trainSgd, type NewtonIteration } from '../lib/train';

let data: { train: Dataset; test: Dataset };

beforeAll(async () => {
  const raw = await loadDataset('fashion-mnist-small');
  const firstN = (ds: Dataset, n: number, stride: number): Dataset => subset(ds, Int32Array.from({ length: n }, (_, i) => i * stride));
  data = paperPreprocess(firstN(raw.train, 512, 7), firstN(raw.test, 500, 1));
});

test('SGD with momentum trains ResNet-20; running statistics follow the steps', async () => {
  const model = cifarResNet(20, data.train.shape, data.train.classes, { seed: 1 });
  const before = evaluateAccuracy(model, data.test);
  const buffers0 = model.getBuffers();
  const r = await trainSgd(model, data.train, { epochs: 3, batchSize: 32, loss: crossEntropyLoss, sgd: { learningRate: 0.02, momentum: 0.9, C: 1 } });
  expect(r.aborted).toBe(false);
  const after = evaluateAccuracy(model, data.test);
  expect(before).toBeLessThan(0.2);
  expect(after).toBeGreaterThan(0.5);
  expect(model.getBuffers()).not.toEqual(buffers0);
  expect(r.state.buffers).toEqual(model.getBuffers());
  model.dispose();
}, 120_000);

test('subsampled Newton trains ResNet-20 with batch norm in training mode; f decreases every iteration', async () => {
  const model = cifarResNet(20, data.train.shape, data.train.classes, { seed: 1 });
  const before = evaluateAccuracy(model, data.test);
  const its: NewtonIteration[] = [];
  const r = await trainNewton(model, data.train, {
    iterations: 5,
    batchSize: 128,
    loss: crossEntropyLoss,
    newton: { samplingRate: 0.25, cgMaxIterations: 20, C: 1 },
    evaluateEvery: 0,
    onIteration: (it) => its.push(it),
  });
  expect(r.iterations).toBe(5);
  for (const it of its) {
    expect(it.accepted).toBe(true);
    expect(it.objective).toBeLessThan(it.initialObjective);
    expect(it.subsampleSize).toBe(128);
  }
  expect(its[4].objective).toBeLessThan(0.8 * its[0].initialObjective);
  const after = evaluateAccuracy(model, data.test);
  expect(before).toBeLessThan(0.2);
  expect(after).toBeGreaterThan(0.35);
  model.dispose();
}, 180_000);
