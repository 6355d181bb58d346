// SGD on the bundled Fashion-MNIST subset (10,000 training / 2,000 test images) with the paper's
// setting for the 3-layer CNN: squared loss, η0 = 0.003, μ = 0.9, γ = 1e-6, C = 0.01, batch 128,
// the paper's preprocessing (min-max per image, minus the training per-pixel mean).
//
// Measured (seed 0, 2 CPU threads, OpenBLAS), test accuracy after each epoch:
//   1: 0.647  2: 0.718  3: 0.737  4: 0.759  5: 0.774  6: 0.785  7: 0.791  8: 0.806  10: 0.816  12: 0.815
// About 15 s per epoch of training at ~650 images/s on 2 cores (more on a busy machine). The test
// runs 6 epochs (≈ 90–120 s) and asks for 0.75, a margin of 0.035 below the measured 0.785.
import { loadDataset, paperPreprocess } from '../lib/data';
import { cnn3, squaredLoss } from '../lib/nn';
import { evaluateAccuracy, trainSgd } from '../lib/train';

const EPOCHS = 6;
const THRESHOLD = 0.75;

test(`cnn3 + SGD on fashion-mnist-small reaches test accuracy ≥ ${THRESHOLD} in ${EPOCHS} epochs`, async () => {
  const raw = await loadDataset('fashion-mnist-small');
  const { train, test } = paperPreprocess(raw.train, raw.test);
  expect([train.length, test.length]).toEqual([10000, 2000]);
  const model = cnn3(train.shape, train.classes, { seed: 0 });
  const r = await trainSgd(model, train, {
    epochs: EPOCHS,
    batchSize: 128,
    seed: 0,
    loss: squaredLoss,
    sgd: { learningRate: 0.003, momentum: 0.9, decay: 1e-6, C: 0.01 },
    evaluateEvery: 'never',
  });
  expect(r.iterations).toBe(EPOCHS * 79);
  const accuracy = evaluateAccuracy(model, test);
  expect(accuracy).toBeGreaterThanOrEqual(THRESHOLD);
  model.dispose();
}, 600_000);
