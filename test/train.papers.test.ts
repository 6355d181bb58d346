// The networks of "Demystifying ResNet" and "On the Local Hessian in Back-propagation" train with
// SGD and with the subsampled Newton method: a 2-shortcut linear network on the whitened
// principal components of the bundled Fashion-MNIST subset (squared loss, as the paper), and a
// narrow VGG13-BN on 32×32 images (the bundled images padded with zeros to 32×32). The objective
// f = ‖θ‖²/(2Cl) + mean loss must fall. (The Newton-ResNet and Newton-CGNet runs are in their own
// test files; ResNet-20's in test/train.resnet.test.ts.)
import { createDataset, loadDataset, paperPreprocess, principalComponents, subset, type Dataset } from '../lib/data';
import { lapackAvailable } from '../lib/linalg';
import { crossEntropyLoss, linearNetwork, squaredLoss, vgg13bn } from '../lib/nn';
import { evaluateObjective, trainNewton, trainSgd } from '../lib/train';

let raw: { train: Dataset; test: Dataset };
beforeAll(async () => {
  raw = await loadDataset('fashion-mnist-small');
});

const firstN = (ds: Dataset, n: number): Dataset => subset(ds, Int32Array.from({ length: n }, (_, i) => i));

(lapackAvailable() ? test : test.skip)('a 2-shortcut linear network (depth 4, width 10) on whitened principal components', async () => {
  const train = firstN(raw.train, 256);
  const pcs = principalComponents(train, 10);
  const data = createDataset({ name: 'pca10', images: Float32Array.from(pcs.features), labels: train.labels, shape: [10, 1, 1], classes: 10 });
  for (const optimizer of ['sgd', 'newton'] as const) {
    const net = linearNetwork({ width: 10, depth: 4, shortcut: 2, initialization: 'zero', seed: 1 });
    const before = evaluateObjective(net, data, { C: 1, loss: squaredLoss }).value;
    if (optimizer === 'sgd') await trainSgd(net, data, { epochs: 3, batchSize: 32, loss: squaredLoss, sgd: { learningRate: 0.05, C: 1 } });
    else await trainNewton(net, data, { iterations: 3, batchSize: 64, loss: squaredLoss, newton: { samplingRate: 0.5, C: 1 }, evaluateEvery: 0 });
    const after = evaluateObjective(net, data, { C: 1, loss: squaredLoss }).value;
    expect(after).toBeLessThan(0.9 * before);
    net.dispose();
  }
}, 60_000);

test('a narrow VGG13-BN (width 4) on 32×32 images', async () => {
  const { train } = paperPreprocess(firstN(raw.train, 64), firstN(raw.test, 8));
  // Pad 28×28 to 32×32 (two zero pixels each side) to reach the five pools' minimum.
  const padded = new Float32Array(train.length * 32 * 32);
  for (let n = 0; n < train.length; n++) {
    for (let h = 0; h < 28; h++) for (let w = 0; w < 28; w++) padded[n * 1024 + (h + 2) * 32 + (w + 2)] = train.images[n * 784 + h * 28 + w];
  }
  const data = createDataset({ name: 'padded', images: padded, labels: train.labels, shape: [1, 32, 32], classes: 10 });
  for (const optimizer of ['sgd', 'newton'] as const) {
    const net = vgg13bn([1, 32, 32], 10, { width: 4, seed: 2 });
    const before = evaluateObjective(net, data, { C: 1, loss: crossEntropyLoss, batchStatistics: true }).value;
    if (optimizer === 'sgd') await trainSgd(net, data, { epochs: 3, batchSize: 16, loss: crossEntropyLoss, sgd: { learningRate: 0.02, C: 1 } });
    else await trainNewton(net, data, { iterations: 3, batchSize: 32, loss: crossEntropyLoss, newton: { samplingRate: 0.5, C: 1, cgMaxIterations: 10 }, evaluateEvery: 0 });
    const after = evaluateObjective(net, data, { C: 1, loss: crossEntropyLoss, batchStatistics: true }).value;
    expect(after).toBeLessThan(before);
    net.dispose();
  }
}, 120_000);
