// `newton-cnn train` through main() with captured streams on a tiny subset of the bundled data:
// the output formats, checkpoints at epoch ends, bit-for-bit resumption (2 epochs = 1 + resume 1,
// and = an interrupted run + resume), interruption, and options inconsistent with a checkpoint;
// ResNet-20 with SGD (milestones, warm-up, weights-only decay), scale-amended SGD and Newton, and
// resuming a ResNet.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { loadCheckpoint, saveCheckpoint } from '../lib/checkpoint';
import { main } from '../lib/cli';
import { INTERRUPTED_CHECKPOINT } from '../lib/cli/commands/train';
import { fakeIo, TINY } from './cli.helpers';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'newton-cli-train-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const bytesOf = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

async function train(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const f = fakeIo(dir);
  const code = await main(['train', ...TINY, ...argv], f.io);
  return { code, out: f.out.text, err: f.err.text };
}

test('prints the header, one line per epoch and the final lines; progress goes to stderr', async () => {
  const r = await train(['--epochs', '2']);
  expect(r.err).not.toMatch(/error/);
  expect(r.code).toBe(0);
  const lines = r.out.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^newton-cnn \S+: train cnn3 with sgd$/);
  expect(r.out).toMatch(/\nmodel: cnn3: 62026 parameters \(float32, cpu\); input 1×28×28, 10 classes\n/);
  expect(r.out).toMatch(/\nparameters: 62026\n/);
  expect(r.out).toMatch(/\ndata: fashion-mnist-small: 256 training \/ 128 test images/);
  expect(r.out).toMatch(/\ndevice: cpu, BLAS \S+ \(gemm \w+\), threads \d+\n/);
  expect(r.out).toMatch(/\nepoch 1\/2 {2}objective \d+\.\d{6} {2}train loss \d\.\d{4} {2}train accuracy 0\.\d{4} {2}test accuracy 0\.\d{4} {2}time \d+\.\ds\n/);
  expect(r.out).toMatch(/\nepoch 2\/2 /);
  expect(lines.slice(-4)[0]).toMatch(/^test accuracy: [01]\.\d{4}$/);
  expect(lines.slice(-3)[0]).toMatch(/^train accuracy: [01]\.\d{4}$/);
  expect(lines.slice(-2)[0]).toMatch(/^objective: \d+\.\d{6}$/);
  expect(lines.slice(-1)[0]).toMatch(/^time: \d+\.\ds$/);
  // non-TTY progress: plain lines, no carriage returns, on stderr only
  expect(r.err).toMatch(/^epoch 1\/2 {2}batch 1\/4 \(25%\) {2}loss \d+\.\d{4} {2}\d+ img\/s {2}ETA \S+$/m);
  expect(r.err).not.toContain('\r');
  expect(r.out).not.toMatch(/batch \d+\/4/);
});

test('--quiet prints only the final lines; --json prints one object', async () => {
  const q = await train(['--epochs', '1', '--quiet']);
  expect(q.code).toBe(0);
  expect(q.out).toMatch(/^test accuracy: [01]\.\d{4}\ntrain accuracy: [01]\.\d{4}\nobjective: \S+\ntime: \S+s\n$/);
  expect(q.err).toBe('');
  const j = await train(['--epochs', '1', '--json']);
  expect(j.code).toBe(0);
  const o = JSON.parse(j.out) as Record<string, unknown>;
  expect(o).toMatchObject({ command: 'train', epoch: 1, iteration: 4, data: { train: 256, test: 128 } });
  expect(o.testAccuracy).toBeCloseTo(Number(/test accuracy: (\S+)/.exec(q.out)![1]), 4); // same run, same numbers
  expect((o.history as unknown[]).length).toBe(1);
});

test('--iterations stops mid-epoch; the result is evaluated at the final θ', async () => {
  const file = path.join(dir, 'it.ckpt');
  const r = await train(['--iterations', '6', '--checkpoint', file, '--json']);
  expect(r.code).toBe(0);
  const o = JSON.parse(r.out) as { iteration: number; epoch: number };
  expect(o.iteration).toBe(6);
  const c = await loadCheckpoint(file);
  expect(c.state.optimizer.iteration).toBe(6);
  expect(c.state.epoch).toBe(1);
  expect(c.state.batch).toBe(2);
});

test('resume is bit-for-bit: 2 epochs = 1 epoch + resume to 2 = interrupted mid-epoch + resume', async () => {
  const straight = path.join(dir, 'straight.ckpt');
  const split = path.join(dir, 'split.ckpt');
  const cut = path.join(dir, 'cut.ckpt');
  expect((await train(['--epochs', '2', '--checkpoint', straight, '--quiet'])).code).toBe(0);
  expect((await train(['--epochs', '1', '--checkpoint', split, '--quiet'])).code).toBe(0);
  const half = await loadCheckpoint(split);
  expect(half.state.epoch).toBe(1);
  const resumed = await train(['--resume', split, '--epochs', '2']);
  expect(resumed.code).toBe(0);
  expect(resumed.out).toMatch(/resuming .*split\.ckpt at epoch 2, batch 0 \(step 4\)/);

  // interrupted after the 3rd batch of epoch 1, through the signal main() gets for Ctrl-C
  const f = fakeIo(dir);
  let batches = 0;
  f.err.onWrite((chunk) => {
    if (/^epoch \d\/2 {2}batch/.test(chunk) && ++batches === 3) f.interrupt.abort();
  });
  const code = await main(['train', ...TINY, '--epochs', '2', '--checkpoint', cut], f.io);
  expect(code).toBe(130);
  expect(f.err.text).toMatch(/interrupted in epoch 1, after batch 3\/4 \(step 3\); checkpoint written to .*cut\.ckpt/);
  expect(f.err.text).toMatch(/resume with: newton-cnn train --resume \S*cut\.ckpt/);
  expect(f.out.text).not.toMatch(/test accuracy:/);
  const mid = await loadCheckpoint(cut);
  expect(mid.state).toMatchObject({ epoch: 0, batch: 3 });
  expect((await train(['--resume', cut])).code).toBe(0); // --epochs 2 comes from the checkpoint

  const a = await loadCheckpoint(straight);
  for (const other of [await loadCheckpoint(split), await loadCheckpoint(cut)]) {
    expect(other.state).toMatchObject({ epoch: 2, batch: 0 });
    expect(other.state.optimizer.iteration).toBe(a.state.optimizer.iteration);
    expect(bytesOf(other.state.parameters).equals(bytesOf(a.state.parameters))).toBe(true);
    expect(bytesOf(other.state.optimizer.velocity).equals(bytesOf(a.state.optimizer.velocity))).toBe(true);
    expect(other.state.rngState).toEqual(a.state.rngState);
  }
  expect(a.options).toMatchObject({ model: 'cnn3', data: 'fashion-mnist-small', trainLimit: 256, testLimit: 128, batchSize: 64, lr: 0.003, C: 0.01, loss: 'squared', epochs: 2 });
});

test('an interrupt without --checkpoint writes ./newton-cnn-interrupted.ckpt', async () => {
  const f = fakeIo(dir);
  f.interrupt.abort(); // Ctrl-C before the first batch
  expect(await main(['train', ...TINY, '--epochs', '1', '--quiet'], f.io)).toBe(130);
  const file = path.join(dir, INTERRUPTED_CHECKPOINT);
  expect(f.err.text).toContain(file);
  expect((await loadCheckpoint(file)).state).toMatchObject({ epoch: 0, batch: 0 });
});

test('options that contradict the checkpoint are refused; --epochs may extend the run', async () => {
  const file = path.join(dir, 'base.ckpt');
  expect((await train(['--epochs', '1', '--checkpoint', file, '--quiet'])).code).toBe(0);
  const before = await loadCheckpoint(file);
  for (const [argv, re] of [
    [['--model', 'cnn5'], /--model cnn5 differs from the checkpoint's cnn3 \(.*base\.ckpt\)/],
    [['--lr', '0.1'], /--lr 0\.1 differs from the checkpoint's 0\.003/],
    [['--batch-size', '32'], /--batch-size 32 differs from the checkpoint's 64/],
    [['--seed', '3'], /--seed 3 differs/],
    [['--loss', 'cross-entropy'], /--loss cross-entropy differs/],
    [['--train-limit', '300'], /--train-limit 300 differs from the checkpoint's 256/],
  ] as const) {
    const f = fakeIo(dir);
    expect(await main(['train', '--resume', file, '--epochs', '2', ...argv], f.io)).toBe(2);
    expect(f.err.text).toMatch(re);
  }
  const data = fakeIo(dir);
  expect(await main(['train', '--resume', file, '--data', dir], data.io)).toBe(2);
  expect(data.err.text).toMatch(/--data .* differs from the checkpoint's fashion-mnist-small/);
  // the checkpoint is at epoch 1: resuming it to 1 epoch trains nothing and reports the metrics
  const same = await train(['--resume', file, '--epochs', '1', '--quiet']);
  expect(same.code).toBe(0);
  expect(same.out).toMatch(/^test accuracy: /);
  const after = await loadCheckpoint(file);
  expect(after.state.epoch).toBe(1);
  expect(bytesOf(after.state.parameters).equals(bytesOf(before.state.parameters))).toBe(true);
});

test('a corrupted --resume file is an error (exit 1) naming the file', async () => {
  const file = path.join(dir, 'broken.ckpt');
  fs.writeFileSync(file, Buffer.from('NCNNCKPT-not-really'));
  const f = fakeIo(dir);
  expect(await main(['train', '--resume', file], f.io)).toBe(1);
  expect(f.err.text).toMatch(/newton-cnn: error: loadCheckpoint: .*broken\.ckpt: truncated/);
});

test('a checkpoint without the newer options (weight decay, schedule, stem) resumes with their defaults', async () => {
  const file = path.join(dir, 'old.ckpt');
  expect((await train(['--epochs', '1', '--checkpoint', file, '--quiet'])).code).toBe(0);
  const c = await loadCheckpoint(file);
  const options = { ...c.options };
  for (const k of ['stem', 'weightDecay', 'decayWeightsOnly', 'milestones', 'lrFactor', 'warmup']) delete options[k];
  await saveCheckpoint(file, { ...c, options });
  const r = await train(['--resume', file, '--epochs', '2', '--weight-decay', '0', '--quiet']); // the default: equal to what the old run had
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  expect((await loadCheckpoint(file)).state.epoch).toBe(2);
  const f = fakeIo(dir);
  expect(await main(['train', '--resume', file, '--epochs', '3', '--weight-decay', '1e-4'], f.io)).toBe(2);
  expect(f.err.text).toMatch(/--weight-decay 0\.0001 differs from the checkpoint's 0 /);
});

test('--milestones that round to the same step are refused once the batches per epoch are known', async () => {
  const f = fakeIo(dir);
  expect(await main(['train', ...TINY, '--milestones', '0.1,0.2'], f.io)).toBe(2);
  expect(f.err.text).toMatch(/--milestones 0\.1,0\.2: with 4 batches per epoch they fall at steps 0,1, which must be strictly increasing and positive/);
});

test('--augment crop-flip trains on augmented batches, is recorded and refused with Newton', async () => {
  const file = path.join(dir, 'aug.ckpt');
  const r = await train(['--epochs', '1', '--augment', 'crop-flip', '--checkpoint', file, '--json']);
  expect(r.code).toBe(0);
  const out = JSON.parse(r.out) as { testAccuracy: number };
  expect(out.testAccuracy).toBeGreaterThan(0);
  expect((await loadCheckpoint(file)).options.augment).toBe('crop-flip');
  // the same run without augmentation ends at another θ
  const plain = await train(['--epochs', '1', '--checkpoint', path.join(dir, 'plain.ckpt'), '--json']);
  expect(plain.code).toBe(0);
  const a = (await loadCheckpoint(file)).state.parameters;
  const b = (await loadCheckpoint(path.join(dir, 'plain.ckpt'))).state.parameters;
  expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(false);
  const f = fakeIo(dir);
  expect(await main(['train', '--augment', 'crop-flip', '--iterations', '1'], f.io)).toBe(2); // Newton, the default
  expect(f.err.text).toMatch(/--augment/);
  const bad = await train(['--augment', 'mirror']);
  expect(bad.code).toBe(2);
  expect(bad.err).toMatch(/--augment/);
});

describe('ResNets', () => {
  // ResNet-20 (272k parameters) on 32 bundled images, 2 batches per epoch: about a second per run on 2 cores
  const RESNET_SGD = ['--optimizer', 'sgd', '--model', 'resnet20', '--train-limit', '32', '--test-limit', '16', '--batch-size', '16', '--loss', 'cross-entropy', '--lr', '0.05',
    '--milestones', '1', '--lr-factor', '0.2', '--warmup', '0.5', '--weight-decay', '5e-4', '--decay-weights-only'];

  test('train --model resnet20 --optimizer sgd with milestones, warm-up and weights-only decay; resumes bit for bit', async () => {
    const straight = path.join(dir, 'resnet-straight.ckpt');
    const split = path.join(dir, 'resnet-split.ckpt');
    const f = fakeIo(dir);
    expect(await main(['train', ...RESNET_SGD, '--epochs', '2', '--checkpoint', straight], f.io)).toBe(0);
    expect(f.out.text).toMatch(/^newton-cnn \S+: train resnet20 with sgd\n/);
    expect(f.out.text).toMatch(/\nmodel: resnet20: 272186 parameters \(float32, cpu\); input 1×28×28, 10 classes\n/);
    expect(f.out.text).toMatch(
      /\noptimizer: sgd, lr 0\.05, momentum 0\.9, lr ×0\.2 after epochs 1 \(steps 2\), warm-up 0\.5 epochs \(1 step\), weight decay 0\.0005 \(conv\/linear weights only\), C 0\.01, batch 16,/,
    );
    expect(f.out.text).toMatch(/\nepoch 2\/2 /);
    expect(f.out.text).toMatch(/\ntest accuracy: [01]\.\d{4}\n/);
    const a = await loadCheckpoint(straight);
    expect(a.model).toMatchObject({ name: 'resnet20', stem: 'cifar', numParameters: 272186 });
    expect(a.model.numBuffers).toBeGreaterThan(0);
    expect(a.options).toMatchObject({ model: 'resnet20', stem: 'cifar', weightDecay: 5e-4, decayWeightsOnly: true, milestones: [1], lrFactor: 0.2, warmup: 0.5 });

    // 1 epoch, then resume to 2 (the options, the stem and the schedule come from the checkpoint)
    expect(await main(['train', ...RESNET_SGD, '--epochs', '1', '--checkpoint', split, '--quiet'], fakeIo(dir).io)).toBe(0);
    const r = fakeIo(dir);
    expect(await main(['train', '--resume', split, '--epochs', '2'], r.io)).toBe(0);
    expect(r.out.text).toMatch(/train resnet20 with sgd/);
    expect(r.out.text).toMatch(/lr ×0\.2 after epochs 1 \(steps 2\), warm-up 0\.5 epochs/);
    const b = await loadCheckpoint(split);
    expect(b.state.optimizer.iteration).toBe(a.state.optimizer.iteration);
    expect(bytesOf(b.state.parameters).equals(bytesOf(a.state.parameters))).toBe(true);
    expect(bytesOf(b.state.optimizer.velocity).equals(bytesOf(a.state.optimizer.velocity))).toBe(true);
    expect(bytesOf(b.state.buffers!).equals(bytesOf(a.state.buffers!))).toBe(true);

    for (const [argv, re] of [
      [['--stem', 'imagenet'], /--stem imagenet differs from the checkpoint's cifar/],
      [['--model', 'resnet32'], /--model resnet32 differs from the checkpoint's resnet20/],
      [['--weight-decay', '1e-3'], /--weight-decay 0\.001 differs from the checkpoint's 0\.0005/],
      [['--milestones', '1,2'], /--milestones 1,2 differs from the checkpoint's 1 /],
      [['--warmup', '0'], /--warmup 0 differs from the checkpoint's 0\.5/],
    ] as const) {
      const e = fakeIo(dir);
      expect(await main(['train', '--resume', split, '--epochs', '3', ...argv], e.io)).toBe(2);
      expect(e.err.text).toMatch(re);
    }
  }, 60_000);

  test('train --model resnet20 --optimizer scale-amended-sgd: its options in the header and the checkpoint; resumes bit for bit', async () => {
    const SA = ['--optimizer', 'scale-amended-sgd', '--model', 'resnet20', '--train-limit', '32', '--test-limit', '16', '--batch-size', '16', '--loss', 'cross-entropy',
      '--lr', '0.005', '--m-fanout', 'sum'];
    const straight = path.join(dir, 'sa-straight.ckpt');
    const split = path.join(dir, 'sa-split.ckpt');
    const cut = path.join(dir, 'sa-cut.ckpt');
    const f = fakeIo(dir);
    expect(await main(['train', ...SA, '--epochs', '2', '--checkpoint', straight], f.io)).toBe(0);
    expect(f.out.text).toMatch(/^newton-cnn \S+: train resnet20 with scale-amended-sgd\n/);
    expect(f.out.text).toMatch(/\noptimizer: scale-amended-sgd, lr 0\.005, momentum 0\.9, decay 0, weight decay 0\.005, m fan-out sum, C 0\.01, batch 16, loss cross-entropy, seed 0\n/);
    expect(f.out.text).toMatch(/\nepoch 2\/2 /);
    expect(f.out.text).toMatch(/\ntest accuracy: [01]\.\d{4}\n/);
    const a = await loadCheckpoint(straight);
    expect(a.optimizer).toBe('scale-amended-sgd');
    expect(a.options).toMatchObject({ optimizer: 'scale-amended-sgd', lr: 0.005, momentum: 0.9, decay: 0, weightDecay: 0.005, mFanout: 'sum', epochs: 2 });
    expect(a.state.optimizer.iteration).toBe(4);
    expect(a.state.optimizer.velocity).toHaveLength(272186);

    // the same run with plain SGD ends elsewhere
    const sgd = path.join(dir, 'sa-sgd.ckpt');
    const sgdArgs = SA.slice(0, -2).map((x) => (x === 'scale-amended-sgd' ? 'sgd' : x));
    expect(await main(['train', ...sgdArgs, '--weight-decay', '0.005', '--decay', '0', '--epochs', '2', '--checkpoint', sgd, '--quiet'], fakeIo(dir).io)).toBe(0);
    expect(bytesOf((await loadCheckpoint(sgd)).state.parameters).equals(bytesOf(a.state.parameters))).toBe(false);

    // 1 epoch, then resume to 2 (the optimizer and its options come from the checkpoint); and
    // 3 steps (mid-epoch), then resume to 2 epochs
    expect(await main(['train', ...SA, '--epochs', '1', '--checkpoint', split, '--quiet'], fakeIo(dir).io)).toBe(0);
    const r = fakeIo(dir);
    expect(await main(['train', '--resume', split, '--epochs', '2'], r.io)).toBe(0);
    expect(r.out.text).toMatch(/train resnet20 with scale-amended-sgd/);
    expect(r.out.text).toMatch(/m fan-out sum/);
    expect(await main(['train', ...SA, '--iterations', '3', '--checkpoint', cut, '--quiet'], fakeIo(dir).io)).toBe(0);
    expect((await loadCheckpoint(cut)).state).toMatchObject({ epoch: 1, batch: 1 });
    expect(await main(['train', '--resume', cut, '--epochs', '2', '--quiet'], fakeIo(dir).io)).toBe(0);
    for (const file of [split, cut]) {
      const b = await loadCheckpoint(file);
      expect(b.state).toMatchObject({ epoch: 2, batch: 0 });
      expect(b.state.optimizer.iteration).toBe(a.state.optimizer.iteration);
      expect(bytesOf(b.state.parameters).equals(bytesOf(a.state.parameters))).toBe(true);
      expect(bytesOf(b.state.optimizer.velocity).equals(bytesOf(a.state.optimizer.velocity))).toBe(true);
      expect(bytesOf(b.state.buffers!).equals(bytesOf(a.state.buffers!))).toBe(true);
    }

    for (const [argv, re] of [
      [['--m-fanout', 'max'], /--m-fanout max differs from the checkpoint's sum/],
      [['--optimizer', 'sgd'], /--optimizer sgd differs from the checkpoint's scale-amended-sgd/],
      [['--weight-decay', '0'], /--weight-decay 0 differs from the checkpoint's 0\.005/],
      [['--lr', '0.1'], /--lr 0\.1 differs from the checkpoint's 0\.005/],
    ] as const) {
      const e = fakeIo(dir);
      expect(await main(['train', '--resume', split, '--epochs', '3', ...argv], e.io)).toBe(2);
      expect(e.err.text).toMatch(re);
    }
  }, 60_000);

  test('train --model resnet20 --optimizer newton', async () => {
    const f = fakeIo(dir);
    const code = await main(['train', '--model', 'resnet20', '--optimizer', 'newton', '--train-limit', '32', '--test-limit', '16', '--iterations', '1', '--sampling-rate', '0.25', '--cg-max', '3'], f.io);
    expect(f.err.text).toBe('');
    expect(code).toBe(0);
    expect(f.out.text).toMatch(/^newton-cnn \S+: train resnet20 with newton\n/);
    expect(f.out.text).toMatch(/^iteration 1\/1 /m);
    expect(f.out.text).toMatch(/\ntest accuracy: [01]\.\d{4}\n/);
  }, 60_000);

  test('--stem cifar builds ResNet-18 with the CIFAR stem', async () => {
    const f = fakeIo(dir);
    const code = await main(['train', '--model', 'resnet18', '--stem', 'cifar', '--optimizer', 'sgd', '--train-limit', '4', '--test-limit', '4', '--batch-size', '4', '--epochs', '1', '--json'], f.io);
    expect(code).toBe(0);
    const o = JSON.parse(f.out.text) as { model: { name: string; stem: string; numParameters: number }; options: { stem: string } };
    expect(o.model).toMatchObject({ name: 'resnet18', stem: 'cifar' });
    expect(o.options.stem).toBe('cifar');
    expect(o.model.numParameters).toBe(11172810); // the 3×3 stem on 1 channel: 9·64 weights instead of 49·64
  }, 60_000);
});

describe("the papers' networks from the CLI", () => {
  // One short run each, with two optimizers; the counts are the CIFAR-10 ones less the stem's 2·9·width weights for 1-channel input.
  test.each([
    ['newton-resnet18', 'sgd', 6_011_088],
    ['newton-resnet18', 'newton', 6_011_088],
    ['newton-cgnet10', 'newton', 276_863],
    ['newton-cgnet10', 'scale-amended-sgd', 276_863],
  ])('train --model %s --optimizer %s', async (model, optimizer, parameters) => {
    const f = fakeIo(dir);
    const common = ['--model', model, '--optimizer', optimizer, '--train-limit', '16', '--test-limit', '8', '--batch-size', '8', '--loss', 'cross-entropy'];
    const budget = optimizer === 'newton' ? ['--iterations', '1', '--sampling-rate', '0.5', '--cg-max', '3'] : ['--iterations', '1', '--lr', '0.001'];
    expect(await main(['train', ...common, ...budget, '--quiet'], f.io)).toBe(0);
    expect(f.out.text).toMatch(/test accuracy: [01]\.\d{4}\n/);
    const v = fakeIo(dir);
    expect(await main(['train', ...common, ...budget], v.io)).toBe(0);
    expect(v.out.text).toMatch(new RegExp(`\\nmodel: ${model}: ${parameters} parameters`));
  }, 120_000);

  test('train --model vgg13bn needs images of at least 32×32 and says so', async () => {
    const f = fakeIo(dir);
    const code = await main(['train', '--model', 'vgg13bn', '--train-limit', '8', '--test-limit', '8', '--iterations', '1'], f.io);
    expect(code).not.toBe(0);
    expect(f.err.text).toMatch(/vgg13bn.*32×32|at least 32/);
  });
});
