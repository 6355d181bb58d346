// newton-cnn argument parsing and the commands that do not train: defaults, every kind of bad
// usage (exit code 2 with a message naming the option), --help, --version and `info`.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { main } from '../lib/cli';
import { DEFAULT_EPOCHS, DEFAULT_NEWTON_ITERATIONS_CLI, defaultStem, isModelName, parseMilestones, parseShape, parseTrainArgs, UsageError } from '../lib/cli/args';
import { infoText } from '../lib/cli/commands/info';
import { sgdOptions } from '../lib/cli/commands/train';
import { Progress, formatDuration } from '../lib/progress';
import { info } from '../lib/runtime';
import { Capture, fakeIo } from './cli.helpers';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'newton-cli-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('parseTrainArgs', () => {
  test('defaults: cnn3, bundled data, newton, squared loss, the paper hyperparameters', () => {
    const a = parseTrainArgs([], dir)!;
    expect(a).toMatchObject({
      model: 'cnn3',
      data: 'fashion-mnist-small',
      optimizer: 'newton',
      iterations: DEFAULT_NEWTON_ITERATIONS_CLI,
      samplingRate: 0.05,
      sampling: 'epoch',
      cgMax: 250,
      cgTol: 0.1,
      lambda: 1,
      gvMode: 'rop',
      loss: 'squared',
      C: 0.01,
      lr: 0.003,
      momentum: 0.9,
      decay: 1e-6,
      batchSize: 128,
      seed: 0,
      epochs: DEFAULT_EPOCHS,
      nesterov: false,
      device: 'cpu',
      quiet: false,
      json: false,
    });
    expect(a).toMatchObject({ weightDecay: 0, decayWeightsOnly: false, lrFactor: 0.1, warmup: 0 });
    expect(a.milestones).toBeUndefined();
    expect(a.stem).toBeUndefined();
    expect(a.checkpoint).toBeUndefined();
    expect(a.given.size).toBe(0);
    expect(parseTrainArgs(['--optimizer', 'sgd'], dir)!.iterations).toBeUndefined();
  });

  test('Newton options are read; options of the other optimizer are refused', () => {
    const a = parseTrainArgs(['--sampling-rate', '0.1', '--cg-max', '20', '--cg-tol', '0.05', '--lambda', '2', '--gv-mode', 'stored', '--sampling', 'random', '--iterations', '3'], dir)!;
    expect(a).toMatchObject({ optimizer: 'newton', samplingRate: 0.1, cgMax: 20, cgTol: 0.05, lambda: 2, gvMode: 'stored', sampling: 'random', iterations: 3 });
    expect(() => parseTrainArgs(['--epochs', '2'], dir)).toThrow(/--epochs is an SGD option, and the default optimizer is the Newton method.*write --optimizer sgd --epochs 2 to train with SGD, or --iterations N/);
    expect(() => parseTrainArgs(['--optimizer', 'newton', '--lr', '0.1'], dir)).toThrow(/--lr is an SGD option/);
    expect(() => parseTrainArgs(['--optimizer', 'sgd', '--cg-max', '5'], dir)).toThrow(/--cg-max is a Newton option; it needs --optimizer newton/);
  });

  test('every option is read; paths become absolute; given options are recorded', () => {
    const a = parseTrainArgs(
      ['--optimizer', 'sgd', '--model', 'cnn5', '--data', '.', '--format', 'idx', '--shape', '1,28,28', '--iterations', '50', '--lr', '1e-2', '--momentum', '0', '--nesterov', '--decay', '0',
        '--C', '0.5', '--batch-size', '32', '--loss', 'cross-entropy', '--seed', '7', '--threads', '1', '--checkpoint', 'a.ckpt', '--checkpoint-every', '10',
        '--quiet', '--json', '--train-limit', '100', '--test-limit', '50'],
      dir,
    )!;
    expect(a).toMatchObject({
      model: 'cnn5', data: dir, format: 'idx', shape: [1, 28, 28], iterations: 50, lr: 0.01, momentum: 0, nesterov: true, decay: 0, C: 0.5, batchSize: 32,
      loss: 'cross-entropy', seed: 7, threads: 1, checkpoint: path.join(dir, 'a.ckpt'), checkpointEvery: 10, quiet: true, json: true, trainLimit: 100, testLimit: 50,
    });
    expect([...a.given].sort()).toEqual(
      ['C', 'batchSize', 'checkpoint', 'checkpointEvery', 'data', 'decay', 'format', 'iterations', 'json', 'loss', 'lr', 'model', 'momentum', 'nesterov', 'optimizer', 'quiet', 'seed', 'shape', 'testLimit', 'threads', 'trainLimit'].sort(),
    );
  });

  test('ResNets: every name modelByName accepts, and --stem', () => {
    for (const name of ['resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet20', 'resnet32', 'resnet44', 'resnet56', 'resnet110', 'resnet8', 'resnet200']) {
      expect(isModelName(name)).toBe(true);
      expect(parseTrainArgs(['--model', name], dir)!.model).toBe(name);
    }
    for (const name of ['resnet', 'resnet21', 'resnet2', 'resnet020', 'resnet151', 'ResNet20', 'cnn4', 'vgg']) expect(isModelName(name)).toBe(false);
    expect([defaultStem('resnet50'), defaultStem('resnet56'), defaultStem('resnet152'), defaultStem('resnet158'), defaultStem('cnn3')]).toEqual(['imagenet', 'cifar', 'imagenet', 'cifar', undefined]); // resnet152 is ImageNet's; 158 = 6·26 + 2 a CIFAR depth
    expect(parseTrainArgs(['--model', 'resnet18', '--stem', 'cifar'], dir)).toMatchObject({ model: 'resnet18', stem: 'cifar' });
    expect(parseTrainArgs(['--model', 'resnet50', '--stem', 'imagenet'], dir)).toMatchObject({ model: 'resnet50', stem: 'imagenet' });
    expect(parseTrainArgs(['--model', 'resnet20', '--stem', 'cifar'], dir)).toMatchObject({ model: 'resnet20', stem: 'cifar' });
    // with --resume the model may come from the checkpoint: --stem is checked when it is known
    fs.writeFileSync(path.join(dir, 's.ckpt'), '');
    expect(parseTrainArgs(['--resume', 's.ckpt', '--stem', 'cifar'], dir)).toMatchObject({ stem: 'cifar' });
  });

  test('--distributed: newton and sgd; --local-batch-norm only with it and sgd', () => {
    expect(parseTrainArgs(['--distributed', 'mpi'], dir)).toMatchObject({ optimizer: 'newton', distributed: 'mpi' });
    expect(parseTrainArgs(['--optimizer', 'sgd', '--distributed', 'mpi', '--local-batch-norm'], dir)).toMatchObject({ distributed: 'mpi', localBatchNorm: true });
    expect(() => parseTrainArgs(['--distributed', 'tcp'], dir)).toThrow(/--distributed/);
    expect(parseTrainArgs(['--distributed', 'nccl'], dir)).toMatchObject({ distributed: 'nccl', device: 'cuda' });
    expect(() => parseTrainArgs(['--distributed', 'nccl', '--device', 'cpu'], dir)).toThrow(/--distributed nccl trains each rank on the GPU of its local rank: leave out --device \(or give cuda\), not 'cpu'/);
    expect(() => parseTrainArgs(['--distributed', 'mpi', '--device', 'cuda:1'], dir)).toThrow(/--distributed mpi sums CPU tensors; on GPUs use --distributed nccl/);
    expect(() => parseTrainArgs(['--optimizer', 'scale-amended-sgd', '--distributed', 'mpi'], dir)).toThrow(/--distributed: scale-amended SGD .* not data-parallel yet/);
    expect(() => parseTrainArgs(['--optimizer', 'sgd', '--local-batch-norm'], dir)).toThrow(/--local-batch-norm: only with --distributed and --optimizer sgd/);
    expect(() => parseTrainArgs(['--distributed', 'mpi', '--local-batch-norm'], dir)).toThrow(/--local-batch-norm: only with --distributed and --optimizer sgd/);
  });

  test('SGD schedule and weight-decay options are read', () => {
    const a = parseTrainArgs(
      ['--optimizer', 'sgd', '--model', 'resnet56', '--weight-decay', '5e-4', '--decay-weights-only', '--milestones', '80, 120.5', '--lr-factor', '0.2', '--warmup', '1.5'],
      dir,
    )!;
    expect(a).toMatchObject({ weightDecay: 5e-4, decayWeightsOnly: true, milestones: [80, 120.5], lrFactor: 0.2, warmup: 1.5 });
    expect([...a.given].sort()).toEqual(['decayWeightsOnly', 'lrFactor', 'milestones', 'model', 'optimizer', 'warmup', 'weightDecay'].sort());
    expect(parseMilestones('--milestones', '3')).toEqual([3]);
    expect(parseTrainArgs(['--optimizer', 'sgd', '--decay-weights-only'], dir)).toMatchObject({ weightDecay: 0, decayWeightsOnly: true }); // no effect, not refused
  });

  test("scale-amended SGD: SGD's options with the local-Hessian paper's defaults, and --m-fanout", () => {
    const a = parseTrainArgs(['--optimizer', 'scale-amended-sgd'], dir)!;
    expect(a).toMatchObject({ optimizer: 'scale-amended-sgd', lr: 0.1, momentum: 0.9, decay: 0, weightDecay: 0.005, decayWeightsOnly: false, mFanout: 'max', C: 0.01 });
    expect(a.iterations).toBeUndefined();
    expect(sgdOptions(a, 10)).toEqual({ learningRate: 0.1, momentum: 0.9, nesterov: false, decay: 0, C: 0.01, weightDecay: 0.005, fanOut: 'max' });
    const b = parseTrainArgs(['--optimizer', 'scale-amended-sgd', '--lr', '0.005', '--weight-decay', '0', '--m-fanout', 'sum', '--milestones', '2', '--warmup', '1', '--epochs', '3'], dir)!;
    expect(b).toMatchObject({ lr: 0.005, weightDecay: 0, mFanout: 'sum', milestones: [2], epochs: 3 });
    expect([...b.given].sort()).toEqual(['epochs', 'lr', 'mFanout', 'milestones', 'optimizer', 'warmup', 'weightDecay'].sort());
    // an explicit --weight-decay 0 is kept (the optimizer's own default is 0.005)
    expect(sgdOptions(b, 4)).toEqual({
      learningRate: 0.005, momentum: 0.9, nesterov: false, decay: 0, C: 0.01, weightDecay: 0, fanOut: 'sum', schedule: { kind: 'multistep', milestones: [8], factor: 0.1 }, warmup: 4,
    });
    // the other optimizers keep their defaults and have no fanOut
    expect(parseTrainArgs(['--optimizer', 'sgd'], dir)).toMatchObject({ lr: 0.003, decay: 1e-6, weightDecay: 0 });
    expect(sgdOptions(parseTrainArgs(['--optimizer', 'sgd'], dir)!, 10)).not.toHaveProperty('fanOut');
  });

  test('sgdOptions: epochs become steps; without the new options the options are the old ones', () => {
    const plain = parseTrainArgs(['--optimizer', 'sgd', '--lr', '0.1', '--C', '1'], dir)!;
    expect(sgdOptions(plain, 10)).toEqual({ learningRate: 0.1, momentum: 0.9, nesterov: false, decay: 1e-6, C: 1 });
    const a = parseTrainArgs(['--optimizer', 'sgd', '--milestones', '1,2.5', '--lr-factor', '0.5', '--warmup', '0.5', '--weight-decay', '1e-4', '--decay-weights-only'], dir)!;
    expect(sgdOptions(a, 4)).toMatchObject({ schedule: { kind: 'multistep', milestones: [4, 10], factor: 0.5 }, warmup: 2, weightDecay: 1e-4, weightDecayOn: 'weights' });
    expect(sgdOptions(parseTrainArgs(['--optimizer', 'sgd', '--warmup', '0.3'], dir)!, 5)).toMatchObject({ warmup: 2 }); // 1.5 → 2 (rounded)
    const close = parseTrainArgs(['--optimizer', 'sgd', '--milestones', '0.1,0.2'], dir)!;
    expect(() => sgdOptions(close, 2)).toThrow(UsageError);
    expect(() => sgdOptions(close, 2)).toThrow(/--milestones 0\.1,0\.2: with 2 batches per epoch they fall at steps 0,0, which must be strictly increasing and positive/);
    expect(sgdOptions(close, 20)).toMatchObject({ schedule: { milestones: [2, 4] } });
  });

  test('data options: --format svhn, --svhn-extra, --cifar-labels', () => {
    expect(parseTrainArgs(['--data', '.', '--format', 'svhn', '--svhn-extra'], dir)).toMatchObject({ data: dir, format: 'svhn', svhnExtra: true });
    expect(parseTrainArgs(['--data', '.', '--cifar-labels', 'coarse'], dir)).toMatchObject({ cifarLabels: 'coarse' });
    const plain = parseTrainArgs([], dir)!;
    expect(plain.svhnExtra).toBeUndefined();
    expect(plain.cifarLabels).toBeUndefined();
  });

  test('--resume alone keeps writing checkpoints to the resumed file', () => {
    const f = path.join(dir, 'r.ckpt');
    fs.writeFileSync(f, '');
    expect(parseTrainArgs(['--resume', 'r.ckpt'], dir)).toMatchObject({ resume: f, checkpoint: f });
    expect(parseTrainArgs(['--resume', 'r.ckpt', '--checkpoint', 'other.ckpt'], dir)).toMatchObject({ resume: f, checkpoint: path.join(dir, 'other.ckpt') });
  });

  test('--help gives null', () => {
    expect(parseTrainArgs(['--help'])).toBeNull();
    expect(parseTrainArgs(['-h'])).toBeNull();
  });

  test.each([
    [['--bogus'], /unknown option '--bogus'/],
    [['-x'], /unknown option '-x'/],
    [['extra'], /unexpected argument 'extra'/],
    [['--epochs'], /--epochs needs a value/],
    [['--epochs', '--lr', '1'], /--epochs needs a value/],
    [['--epochs', '0'], /--epochs must be a positive integer, got '0'/],
    [['--epochs', '1.5'], /--epochs must be an integer, got '1.5'/],
    [['--epochs', 'ten'], /--epochs must be an integer, got 'ten'/],
    [['--epochs', '3', '--iterations', '4'], /--epochs or --iterations, not both/],
    [['--lr', 'abc'], /--lr must be a number, got 'abc'/],
    [['--lr', '0'], /--lr must be positive/],
    [['--lr', 'Infinity'], /--lr must be a number/],
    [['--lr', '0x10'], /--lr must be a number/],
    [['--momentum', '1'], /--momentum must be in \[0, 1\)/],
    [['--decay', '-1'], /--decay must be non-negative/],
    [['--C', '0'], /--C must be positive/],
    [['--batch-size', '-3'], /--batch-size must be a positive integer/],
    [['--seed', '-1'], /--seed must be a non-negative integer/],
    [['--threads', '1000'], /--threads must be at most 256/],
    [['--model', 'resnet'], /--model must be one of: cnn3, cnn5, resnet18, resnet34, resnet50, resnet101, resnet152, resnet20, resnet32, resnet44, resnet56, resnet110, .* or another resnet<6n\+2> \(got 'resnet'\)/],
    [['--model', 'resnet21'], /--model must be one of: .* \(got 'resnet21'\)/],
    [['--model', 'resnet020'], /--model must be one of: .* \(got 'resnet020'\)/],
    [['--stem', 'cifar'], /--stem is for the ResNets \(resnet18, resnet34, resnet50, resnet101, resnet152, resnet<6n\+2>\), not cnn3/],
    [['--model', 'cnn5', '--stem', 'imagenet'], /--stem is for the ResNets .*, not cnn5/],
    [['--model', 'resnet20', '--stem', 'imagenet'], /--stem imagenet: resnet20 is a CIFAR ResNet, which always has the cifar stem/],
    [['--model', 'resnet18', '--stem', 'tiny'], /--stem must be one of: imagenet, cifar \(got 'tiny'\)/],
    [['--optimizer', 'sgd', '--weight-decay', '-1'], /--weight-decay must be non-negative, got -1/],
    [['--optimizer', 'sgd', '--weight-decay', 'x'], /--weight-decay must be a number, got 'x'/],
    [['--optimizer', 'sgd', '--milestones', '5,3'], /--milestones must be strictly increasing, got 5 then 3 in '5,3'/],
    [['--optimizer', 'sgd', '--milestones', '2,2'], /--milestones must be strictly increasing, got 2 then 2/],
    [['--optimizer', 'sgd', '--milestones', '0,3'], /--milestones must be positive epochs, got 0 in '0,3'/],
    [['--optimizer', 'sgd', '--milestones', '1,,2'], /--milestones must be epochs E1,E2,… \(e\.g\. 100,150\), got '1,,2'/],
    [['--optimizer', 'sgd', '--milestones', 'ten'], /--milestones must be a number, got 'ten'/],
    [['--optimizer', 'sgd', '--lr-factor', '0.5'], /--lr-factor needs --milestones/],
    [['--optimizer', 'sgd', '--milestones', '3', '--lr-factor', '0'], /--lr-factor must be positive, got 0/],
    [['--optimizer', 'sgd', '--milestones', '3', '--decay', '0.001'], /--decay \(γ of the schedule η0\/\(1 \+ tγ\)\) has no effect with --milestones/],
    [['--optimizer', 'sgd', '--warmup', '-0.5'], /--warmup must be non-negative \(epochs\), got -0.5/],
    [['--weight-decay', '1e-4'], /--weight-decay is an SGD option/],
    [['--optimizer', 'newton', '--decay-weights-only'], /--decay-weights-only is an SGD option/],
    [['--milestones', '3'], /--milestones is an SGD option/],
    [['--warmup', '1'], /--warmup is an SGD option/],
    [['--optimizer', 'lbfgs'], /--optimizer must be one of: newton, sgd, scale-amended-sgd \(got 'lbfgs'\)/],
    [['--optimizer', 'scale-amended-sgd', '--m-fanout', 'mean'], /--m-fanout must be one of: max, sum \(got 'mean'\)/],
    [['--optimizer', 'sgd', '--m-fanout', 'sum'], /--m-fanout is a scale-amended SGD option; it needs --optimizer scale-amended-sgd/],
    [['--m-fanout', 'max'], /--m-fanout is a scale-amended SGD option/],
    [['--optimizer', 'scale-amended-sgd', '--cg-max', '5'], /--cg-max is a Newton option; it needs --optimizer newton/],
    [['--optimizer', 'scale-amended-sgd', '--milestones', '3', '--decay', '0'], /--decay \(γ of the schedule η0\/\(1 \+ tγ\)\) has no effect with --milestones/],
    [['--sampling-rate', '0'], /--sampling-rate must be in \(0, 1\], got 0/],
    [['--sampling-rate', '1.5'], /--sampling-rate must be in \(0, 1\], got 1.5/],
    [['--cg-max', '0'], /--cg-max must be a positive integer, got '0'/],
    [['--cg-tol', '1'], /--cg-tol must be in \(0, 1\), got 1/],
    [['--lambda', '0'], /--lambda must be positive, got 0/],
    [['--lambda', '-1'], /--lambda must be positive, got -1/],
    [['--gv-mode', 'exact'], /--gv-mode must be one of: rop, stored/],
    [['--sampling', 'all'], /--sampling must be one of: epoch, random/],
    [['--loss', 'hinge'], /--loss must be one of: squared, cross-entropy/],
    [['--format', 'csv'], /--format must be one of: idx, cifar, libsvm, svhn/],
    [['--cifar-labels', 'super'], /--cifar-labels must be one of: fine, coarse/],
    [['--data', 'no-such-data'], /--data: 'no-such-data' is neither a data set name \(fashion-mnist-small, fashion-mnist\) nor an existing file or directory/],
    [['--test', 'missing.t'], /--test: no such file 'missing.t'/],
    [['--resume', 'missing.ckpt'], /--resume: no such file 'missing.ckpt'/],
    [['--shape', '1,28'], /--shape must be three positive integers C,H,W/],
    [['--device', 'tpu'], /--device must be cpu, cuda or cuda:N, got 'tpu'/],
    [['--checkpoint-every', '5'], /--checkpoint-every needs --checkpoint/],
    [['--data', ''], /--data needs a value/],
  ])('%j → UsageError', (argv, re) => {
    let err: unknown;
    try {
      parseTrainArgs(argv, dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(re);
  });

  test('parseShape accepts C,H,W and CxHxW', () => {
    expect(parseShape('--shape', '3,32,32')).toEqual([3, 32, 32]);
    expect(parseShape('--shape', '3x32x32')).toEqual([3, 32, 32]);
    expect(() => parseShape('--shape', '0,1,1')).toThrow(UsageError);
  });
});

describe('main', () => {
  test.each([
    [['train', '--bogus'], /newton-cnn: unknown option '--bogus'\nRun 'newton-cnn train --help' for usage/],
    [['train', '--epochs', 'x'], /--epochs must be an integer/],
    [['train', '--model', 'vgg'], /--model must be one of: cnn3, cnn5/],
    [['train', '--data', 'nowhere'], /--data: 'nowhere' is neither/],
    [['fly'], /unknown command 'fly' \(commands: train, predict, evaluate, export, info, spectrum, condition, plot\)/],
    [['trian'], /unknown command 'trian'; did you mean train\?/],
    [['--frobnicate'], /unknown option '--frobnicate'/],
    [['info', '--verbose'], /unknown option '--verbose'/],
  ])('%j exits with 2 and says why on stderr', async (argv, re) => {
    const { io, out, err } = fakeIo(dir);
    expect(await main(argv, io)).toBe(2);
    expect(err.text).toMatch(re);
    expect(out.text).toBe('');
  });

  test('no command prints the usage and exits with 2; --help exits with 0', async () => {
    let f = fakeIo(dir);
    expect(await main([], f.io)).toBe(2);
    expect(f.out.text).toMatch(/^Usage: newton-cnn <command>/);
    f = fakeIo(dir);
    expect(await main(['--help'], f.io)).toBe(0);
    expect(f.out.text).toMatch(/train .*\n(.*\n)*\s+info/);
  });

  test('train --help lists every option, the advanced ones and the exit codes', async () => {
    const { io, out } = fakeIo(dir);
    expect(await main(['train', '--help'], io)).toBe(0);
    for (const flag of ['--model', '--stem', '--weight-decay', '--m-fanout', 'scale-amended-sgd', '--decay-weights-only', '--milestones', '--lr-factor', '--warmup', 'resnet<6n+2>', '--data', '--format', '--test', '--shape', '--optimizer', '--epochs', '--iterations', '--sampling-rate', '--cg-max', '--cg-tol', '--lambda', '--gv-mode', '--sampling', '--lr', '--momentum', '--nesterov', '--decay', '--C',
      '--batch-size', '--loss', '--seed', '--device', '--threads', '--checkpoint', '--checkpoint-every', '--resume', '--quiet', '--json', '--train-limit', '--test-limit']) {
      expect(out.text).toContain(flag);
    }
    for (const section of ['Common options:', 'Newton options', 'SGD options', 'Data options:', 'Output, checkpoints and logs:']) expect(out.text).toContain(section);
    for (const flag of ['--log', '--validation', '--early-stop', '--schedule', '--step-every', '--lr-min']) expect(out.text).toContain(flag);
    expect(out.text).toMatch(/130 interrupted/);
  });

  test('--version prints the package version', async () => {
    const { io, out } = fakeIo(dir);
    expect(await main(['--version'], io)).toBe(0);
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
    expect(out.text).toBe(`${pkg.version}\n`);
  });

  test('info prints the version, the BLAS, the convolutions, the vector code, the threads and every device', async () => {
    const { io, out } = fakeIo(dir);
    expect(await main(['info'], io)).toBe(0);
    const rt = info();
    expect(out.text).toBe(`${infoText()}\n`);
    expect(out.text).toMatch(new RegExp(`^newton-cnn ${rt.version.replace(/\./g, '\\.')}\n`));
    expect(out.text).toContain(`BLAS: ${rt.blas}\n`);
    expect(out.text).toContain(`threads: ${rt.threads}\n`);
    // the convolutions in use, and oneDNN's version or why it is absent
    expect(out.text).toContain(rt.onednn.available ? `conv: ${rt.conv} (oneDNN ${rt.onednn.version}, ` : `conv: builtin (oneDNN unavailable: ${rt.onednn.reason})\n`);
    expect(out.text).toContain(`vector code: ${rt.cpuIsa.active} (this processor runs ${rt.cpuIsa.supported.join(', ')})\n`);
    expect(out.text).toMatch(/devices:\n {2}cpu +available +\S/);
    expect(out.text).toMatch(/\n {2}cuda\S* +(available|unavailable)/);
  });

  test('info --json is one parseable object', async () => {
    const { io, out } = fakeIo(dir);
    expect(await main(['info', '--json'], io)).toBe(0);
    const o = JSON.parse(out.text) as { version: string; blas: string; devices: Array<{ name: string }> };
    expect(o.blas).toBe(info().blas);
    expect(o.devices.map((d) => d.name)).toContain('cpu');
  });
});

describe('Progress', () => {
  const p = (batch: number, epoch = 0) => ({ epoch, epochs: 2, batch, batches: 20, loss: 0.5, imagesPerSecond: 1280 });

  test('plain mode prints at most every 10% of an epoch, and the epoch end', () => {
    const s = new Capture();
    const pr = new Progress(s, { tty: false, batchSize: 128 });
    for (let b = 1; b <= 20; b++) pr.update(p(b));
    const lines = s.text.trimEnd().split('\n');
    expect(lines).toHaveLength(10);
    expect(lines[0]).toBe('epoch 1/2  batch 2/20 (10%)  loss 0.5000  1280 img/s  ETA 4s');
    expect(lines[9]).toMatch(/batch 20\/20 \(100%\)/);
    expect(s.text).not.toContain('\r');
  });

  test('tty mode redraws one line with \\r, throttled, cut to the width, and clears itself', () => {
    const s = new Capture();
    s.isTTY = true;
    s.columns = 60;
    let now = 0;
    const pr = new Progress(s, { batchSize: 128, now: () => now });
    expect(pr.tty).toBe(true);
    pr.update(p(1));
    pr.update(p(2)); // within 100 ms: skipped
    now = 200;
    pr.update(p(10));
    const draws = s.text.split('\r').filter((x) => x !== '');
    expect(draws).toHaveLength(2);
    for (const d of draws) expect(d.replace('\x1b[K', '').length).toBeLessThan(60);
    expect(new Progress(new Capture(), { tty: true, now: () => 0 }).barLine(p(10))).toBe(
      'epoch 1/2 [############------------]  50%  1280 img/s  ETA 3s  loss 0.5000',
    );
    pr.clear();
    expect(s.text.endsWith('\r\x1b[K')).toBe(true);
    const n = s.text.length;
    pr.clear(); // nothing drawn: nothing written
    expect(s.text.length).toBe(n);
  });

  test('formatDuration', () => {
    expect(formatDuration(5.4)).toBe('5s');
    expect(formatDuration(65)).toBe('1m05s');
    expect(formatDuration(3725)).toBe('1h02m05s');
    expect(formatDuration(NaN)).toBe('?');
  });
});
