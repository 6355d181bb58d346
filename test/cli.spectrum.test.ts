// `newton-cnn spectrum`: argument parsing and bad usage (exit code 2 naming the option), and
// runs through main() with captured streams: the JSON of Lanczos + Hutch++ on cnn3, the table,
// every eigenvalue of one layer (as many as its parameters; the largest agrees with Lanczos),
// the density plot (SVG), a checkpoint (its θ, loss and pixel mean, checked against the library
// directly) and Ctrl-C. Dense runs use 8×8 images (cnn3's last layer then has 650 parameters)
// to stay within seconds.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import * as analysis from '../lib/analysis';
import { loadCheckpoint } from '../lib/checkpoint';
import { main } from '../lib/cli';
import { UsageError } from '../lib/cli/args';
import type { SpectrumReport } from '../lib/cli/commands/spectrum';
import { DEFAULT_MAX_DIMENSION, parseLayers, parseSpectrumArgs, spectrumUsage } from '../lib/cli/spectrum-args';
import { loadDataset, paperPreprocess, subset } from '../lib/data';
import { lapackAvailable } from '../lib/linalg';
import { lossByName, modelByName } from '../lib/nn';
import { fakeIo } from './cli.helpers';
import { idxImages, idxLabels, writeFile } from './data.fixtures';

let dir: string;
let tiny: string; // a directory of IDX files: 64 training and 16 test images of 8×8, 10 classes
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'newton-cli-spectrum-'));
  tiny = path.join(dir, 'tiny');
  fs.mkdirSync(tiny);
  const pixel = (i: number, k: number): number => (i * 97 + k * 31 + ((i * k) % 13) * 17) % 256;
  const labels = (n: number): number[] => Array.from({ length: n }, (_, i) => (i * 3) % 10);
  writeFile(tiny, 'train-images-idx3-ubyte', idxImages(64, 8, 8, pixel));
  writeFile(tiny, 'train-labels-idx1-ubyte', idxLabels(labels(64)));
  writeFile(tiny, 't10k-images-idx3-ubyte', idxImages(16, 8, 8, pixel));
  writeFile(tiny, 't10k-labels-idx1-ubyte', idxLabels(labels(16)));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function spectrum(argv: string[], abort = false): Promise<{ code: number; out: string; err: string }> {
  const f = fakeIo(dir);
  if (abort) f.interrupt.abort();
  const code = await main(['spectrum', ...argv], f.io);
  return { code, out: f.out.text, err: f.err.text };
}

describe('parseSpectrumArgs', () => {
  test('defaults: the 5 largest Hessian eigenvalues on 512 images, batch statistics', () => {
    const a = parseSpectrumArgs(['--model', 'cnn3'], dir)!;
    expect(a).toMatchObject({ source: { kind: 'model', model: 'cnn3' }, trainLimit: 512, seed: 0, device: 'cpu', matrix: 'hessian', batchNorm: 'batch', top: 5 });
    expect(a).toMatchObject({ power: false, dense: false, trace: false, traceProducts: 99, hutchinson: false, densityVectors: 8, densitySteps: 80, maxDimension: DEFAULT_MAX_DIMENSION, quiet: false });
    for (const k of ['loss', 'dtype', 'data', 'layers', 'bottom', 'magnitude', 'density', 'json', 'batchSize'] as const) expect(a[k]).toBeUndefined();
    // another method alone: no default --top
    expect(parseSpectrumArgs(['--model', 'cnn3', '--trace'], dir)!.top).toBeUndefined();
    expect(parseSpectrumArgs(['--model', 'cnn3', '--dense', '--layers', '10,0'], dir)!).toMatchObject({ dense: true, layers: [0, 10] });
    const j = parseSpectrumArgs(['--model', 'resnet20', '--json', 'out.json', '--density', 'd.svg', '--loss', 'squared', '--matrix', 'gauss-newton', '--batch-norm', 'running'], dir)!;
    expect(j).toMatchObject({ json: path.join(dir, 'out.json'), density: path.join(dir, 'd.svg'), loss: 'squared', matrix: 'gauss-newton', batchNorm: 'running' });
    expect(parseSpectrumArgs(['--model', 'cnn3', '--json', '-'], dir)!.json).toBe('-');
    expect(parseSpectrumArgs(['--model', 'cnn3', '--help'], dir)).toBeNull();
  });

  test.each([
    [[], /say which network: --model NAME .* or --checkpoint PATH/],
    [['--train-limit', '8'], /say which network/],
    [['--model', 'cnn3', '--checkpoint', 'x.ckpt'], /--model NAME or --checkpoint PATH, not both/],
    [['--checkpoint', 'missing.ckpt'], /--checkpoint: no such file 'missing.ckpt'/],
    [['--model', 'cnn9'], /--model must be one of: cnn3, cnn5/],
    [['--model', 'cnn3', '--stem', 'cifar'], /--stem is for the ResNets/],
    [['--model', 'resnet20', '--stem', 'imagenet'], /resnet20 is a CIFAR ResNet/],
    [['--model', 'cnn3', '--matrix', 'fisher'], /--matrix must be one of: hessian, gauss-newton \(got 'fisher'\)/],
    [['--model', 'cnn3', '--batch-norm', 'eval'], /--batch-norm must be one of: batch, running/],
    [['--model', 'cnn3', '--loss', 'hinge'], /--loss must be one of: squared, cross-entropy/],
    [['--model', 'cnn3', '--top', '0'], /--top must be a positive integer, got '0'/],
    [['--model', 'cnn3', '--bottom', 'two'], /--bottom must be an integer, got 'two'/],
    [['--model', 'cnn3', '--layers', '1,x'], /--layers must be node indices I,J,…/],
    [['--model', 'cnn3', '--layers', '-1'], /--layers must be node indices/],
    [['--model', 'cnn3', '--layers', '3,3'], /--layers names a node twice/],
    [['--model', 'cnn3', '--trace-products', '9'], /--trace-products needs --trace/],
    [['--model', 'cnn3', '--hutchinson'], /--hutchinson needs --trace/],
    [['--model', 'cnn3', '--trace', '--trace-products', '2'], /at least 3 for Hutch\+\+/],
    [['--model', 'cnn3', '--density-vectors', '4'], /--density-vectors needs --density FILE.svg/],
    [['--model', 'cnn3', '--max-dimension', '100'], /--max-dimension needs --dense/],
    [['--model', 'cnn3', '--trace', '--tolerance', '1e-3'], /--tolerance needs --top, --bottom, --magnitude or --power/],
    [['--model', 'cnn3', '--power', '--tolerance', '2'], /--tolerance must be in \(0, 1\)/],
    [['--model', 'cnn3', '--density', 'nowhere/d.svg'], /--density: no such directory 'nowhere'/],
    [['--model', 'cnn3', '--json', '.'], /--json: '.' is a directory/],
    [['--model', 'cnn3', '--dtype', 'float16'], /--dtype must be one of: float32, float64/],
    [['--model', 'cnn3', '--data', 'nothing-here'], /--data: 'nothing-here' is neither a data set name/],
    [['--model', 'cnn3', '--epochs', '3'], /unknown option '--epochs'/],
    [['--model', 'cnn3', '--top'], /--top needs a value/],
    [['--model', 'cnn3', 'extra'], /unexpected argument 'extra'/],
  ])('%j is refused', (argv, message) => {
    expect(() => parseSpectrumArgs(argv, dir)).toThrow(UsageError);
    expect(() => parseSpectrumArgs(argv, dir)).toThrow(message);
  });

  test('parseLayers sorts and accepts spaces', () => {
    expect(parseLayers('--layers', '10, 3,0')).toEqual([0, 3, 10]);
  });
});

describe('main spectrum', () => {
  test('--help, help spectrum, and the main help lists the command', async () => {
    for (const argv of [['spectrum', '--help'], ['help', 'spectrum']]) {
      const f = fakeIo(dir);
      expect(await main(argv, f.io)).toBe(0);
      expect(f.out.text).toBe(`${spectrumUsage()}\n`);
    }
    expect(spectrumUsage()).toMatch(/^Usage: newton-cnn spectrum \(--model NAME \| --checkpoint PATH\) \[options\]/);
    for (const flag of ['--layers I,J,…', '--density FILE.svg', '--trace-products N', '--json FILE|-', '--dense', '--power', '--hutchinson', '--batch-norm MODE']) expect(spectrumUsage()).toContain(flag);
    const f = fakeIo(dir);
    await main(['--help'], f.io);
    expect(f.out.text).toMatch(/\n {2}spectrum +curvature spectrum/);
  });

  test('bad usage exits with code 2 and points at spectrum --help', async () => {
    const r = await spectrum(['--top', '3']);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe("newton-cnn: say which network: --model NAME (at its initial point) or --checkpoint PATH (a trained one)\nRun 'newton-cnn spectrum --help' for usage.\n");
  });

  test('--json -: Lanczos and Hutch++ on cnn3, every field', async () => {
    const r = await spectrum(['--model', 'cnn3', '--train-limit', '32', '--top', '3', '--trace', '--trace-products', '9', '--json', '-']);
    expect(r.err).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const o = JSON.parse(r.out) as SpectrumReport;
    expect(o).toMatchObject({
      command: 'spectrum',
      model: { name: 'cnn3', inputShape: [1, 28, 28], classes: 10, dtype: 'float32', numParameters: 62026, point: 'initial' },
      data: { name: 'fashion-mnist-small', examples: 32, shape: [1, 28, 28], classes: 10, meanOver: 32 },
      operator: { matrix: 'hessian', loss: 'cross-entropy', dimension: 62026, batchStatistics: true, batchSize: 32, batches: 1, layers: null },
      options: { model: 'cnn3', checkpoint: null, trainLimit: 32, seed: 0, top: 3, trace: true, traceProducts: 9, traceEstimator: 'hutch++', dtype: 'float32' },
      device: 'cpu',
    });
    expect(o.operator.ranges.reduce((a, x) => a + x.size, 0)).toBe(62026);
    const top = o.results.top!;
    expect(top).toMatchObject({ which: 'largest', k: 3, converged: true });
    expect(top.values).toHaveLength(3);
    expect(top.values[0]).toBeGreaterThanOrEqual(top.values[1]);
    expect(top.values[1]).toBeGreaterThanOrEqual(top.values[2]);
    expect(top.values[2]).toBeGreaterThan(0);
    top.residuals.forEach((res) => expect(res).toBeLessThanOrEqual(1e-4 * top.values[0] * 1.0001));
    expect(top.products).toBe(top.iterations);
    const tr = o.results.trace!;
    expect(tr).toMatchObject({ estimator: 'hutch++', products: 9 });
    expect(tr.value).toBeGreaterThan(top.values[0]); // the Hessian of cross-entropy at the initial point: a mostly positive spectrum
    expect(tr.standardError).toBeGreaterThan(0);
    expect(o.products).toBe(top.products + tr.products);
    expect(o.seconds).toBeGreaterThan(0);
    expect(Object.keys(o.results).sort()).toEqual(['top', 'trace']);
    // progress on stderr, by products
    expect(r.err).toMatch(/^lanczos \(largest, k 3\): up to 80 products$/m);
    expect(r.err).toMatch(/^trace \(hutch\+\+\): product 9\/9$/m);
  });

  test('the table: header, eigenvalues with residuals, trace ± error, products and time; --quiet drops header and progress', async () => {
    const r = await spectrum(['--model', 'cnn3', '--data', tiny, '--train-limit', '16', '--top', '2', '--power', '--trace', '--hutchinson', '--trace-products', '4']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^newton-cnn \S+: spectrum of cnn3 \(initial point, seed 0\)\n/);
    expect(r.out).toMatch(/\nmodel: cnn3: 56906 parameters \(float32, cpu\); input 1×8×8, 10 classes\n/);
    expect(r.out).toMatch(/\nnodes with parameters: 0 conv2d 832, 3 conv2d 18496, 6 conv2d 36928, 10 linear 650\n/);
    expect(r.out).toMatch(/\ndata: tiny: the first 16 training images \(paper preprocessing, pixel mean of the first 16\)\n/);
    expect(r.out).toMatch(/\noperator: Hessian of the mean cross-entropy loss, batch norm on batch statistics, 1 batch of 16; dimension 56906 \(all parameters\)\n/);
    expect(r.out).toMatch(/\nlargest eigenvalues \(Lanczos, \d+ steps, converged\)\n {4}# +eigenvalue +residual\n {4}1 +\S+ +\d\.\de[+-]\d+\n {4}2 +\S+ +\S+\n/);
    expect(r.out).toMatch(/\npower iteration: λ = \S+ \(largest in magnitude\), residual \S+, \d+ iterations, (converged|NOT converged)\n/);
    expect(r.out).toMatch(/\ntrace \(Hutchinson, 4 products\): \S+ ± \S+ \(standard error\)\n/);
    expect(r.out).toMatch(/\nmethod +products +time\nlanczos \(largest\) +\d+ +\d+\.\ds\npower iteration +\d+ +\d+\.\ds\ntrace \(hutchinson\) +4 +\d+\.\ds\ntotal +\d+ +\d+\.\ds\n$/);
    const q = await spectrum(['--model', 'cnn3', '--data', tiny, '--train-limit', '16', '--top', '2', '--quiet']);
    expect(q.code).toBe(0);
    expect(q.err).toBe('');
    expect(q.out).toMatch(/^\nlargest eigenvalues/);
  });

  (lapackAvailable() ? test : test.skip)('--dense --layers: every eigenvalue of one layer, as many as its parameters; --json FILE', async () => {
    const file = path.join(dir, 'dense.json');
    const r = await spectrum(['--model', 'cnn3', '--data', tiny, '--train-limit', '16', '--dtype', 'float64', '--layers', '10', '--dense', '--top', '1', '--json', file]);
    expect(r.err).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\noperator: .*; dimension 650 \(nodes 10: 10\.weight 640, 10\.bias 10\)\n/);
    expect(r.out).toMatch(/\nevery eigenvalue \(dense matrix \+ LAPACK, 650 eigenvalues, asymmetry/);
    expect(r.out).toMatch(/\n {2}condition number max\|λ\|\/min\|λ\| +\S+\n/);
    expect(r.out).toMatch(/\n {2}max\|λ\| \/ 10th percentile \|λ\| +\S+\n/);
    expect(r.out).toMatch(/\n {2}negative fraction +0\.\d{4} \(below −[\d.e+-]+\)\n {2}zero fraction +0\.\d{4} \(\|λ\| ≤ [\d.e+-]+\)\n/);
    expect(r.out).toContain(`\njson: ${file}\n`);
    const o = JSON.parse(fs.readFileSync(file, 'utf8')) as SpectrumReport;
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    const d = o.results.dense!;
    expect(d.values).toHaveLength(650);
    expect(d.products).toBe(650);
    expect(o.operator).toMatchObject({ dimension: 650, layers: [10], ranges: [{ module: 10, kind: 'linear', name: 'weight', size: 640 }, { module: 10, kind: 'linear', name: 'bias', size: 10 }] });
    for (let i = 1; i < d.values.length; i++) expect(d.values[i]).toBeGreaterThanOrEqual(d.values[i - 1]);
    expect(d.statistics).toMatchObject({ count: 650, max: d.values[649], min: d.values[0] });
    // the last layer of cross-entropy: a Gauss-Newton-like, positive semidefinite block
    expect(d.values[0]).toBeGreaterThan(-1e-10 * d.values[649]);
    expect(d.asymmetry).toBeLessThan(1e-10);
    expect(o.results.top!.values[0]).toBeCloseTo(d.values[649], 8);
  });

  test('--layers and --dense mistakes found once the model is built exit with code 2', async () => {
    const base = ['--model', 'cnn3', '--data', tiny, '--train-limit', '8'];
    const relu = await spectrum([...base, '--layers', '1']);
    expect(relu.code).toBe(2);
    expect(relu.err).toMatch(/^newton-cnn: --layers: node 1 \(relu\) has no parameters; nodes with parameters: 0 conv2d 832, 3 conv2d 18496, 6 conv2d 36928, 10 linear 650\n/);
    const far = await spectrum([...base, '--layers', '0,11']);
    expect(far.code).toBe(2);
    expect(far.err).toMatch(/--layers: node 11 is out of range: cnn3 has nodes 0…10; those with parameters: 0 conv2d 832/);
    const big = await spectrum([...base, '--dense']);
    expect(big.code).toBe(2);
    expect(big.err).toMatch(/--dense: the operator has dimension 56906 > --max-dimension 4096 .*; restrict it with --layers I,J,… \(nodes with parameters: 0 conv2d 832, .*\) or raise --max-dimension/);
    const small = await spectrum([...base, '--dense', '--layers', '0', '--max-dimension', '100']);
    expect(small.code).toBe(2);
    expect(small.err).toMatch(/dimension 832 > --max-dimension 100/);
  });

  test('--density writes an SVG plot and the density goes into the JSON', async () => {
    const svgFile = path.join(dir, 'density.svg');
    const r = await spectrum(['--model', 'cnn3', '--data', tiny, '--train-limit', '16', '--density', svgFile, '--density-vectors', '2', '--density-steps', '12', '--json', '-']);
    expect(r.code).toBe(0);
    const svg = fs.readFileSync(svgFile, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('<path');
    expect(svg).toContain('Hessian spectral density: cnn3');
    const o = JSON.parse(r.out) as SpectrumReport;
    const d = o.results.density!;
    expect(d).toMatchObject({ file: svgFile, vectors: 2, steps: 12, products: 24 });
    expect(d.grid).toHaveLength(400);
    expect(d.density).toHaveLength(400);
    expect(d.nodes).toHaveLength(2);
    expect(d.negativeFraction).toBeGreaterThanOrEqual(0);
    expect(d.negativeFraction).toBeLessThanOrEqual(1);
    expect(o.results.top).toBeUndefined(); // --density alone: no default --top
  });

  test('--checkpoint: its θ, loss and data, and the pixel mean of its training run; the same numbers as the library', async () => {
    const ckpt = path.join(dir, 'run.ckpt');
    const f = fakeIo(dir);
    const trained = await main(['train', '--data', tiny, '--optimizer', 'sgd', '--iterations', '3', '--batch-size', '16', '--lr', '0.05', '--checkpoint', ckpt, '--quiet'], f.io);
    expect(trained).toBe(0);
    const r = await spectrum(['--checkpoint', ckpt, '--train-limit', '16', '--top', '2', '--json', '-', '--dtype', 'float64']);
    expect(r.err).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const o = JSON.parse(r.out) as SpectrumReport;
    expect(o.model).toMatchObject({ name: 'cnn3', point: 'checkpoint', checkpoint: ckpt, dtype: 'float64', inputShape: [1, 8, 8] });
    expect(o.data).toMatchObject({ name: tiny, examples: 16, meanOver: 64 }); // the run used all 64 training images
    expect(o.operator.loss).toBe('squared'); // train's default, recorded in the checkpoint
    // The same operator built by hand: the checkpoint's θ, the run's preprocessing, the first 16 images.
    const c = await loadCheckpoint(ckpt);
    const raw = await loadDataset(tiny);
    const train = paperPreprocess(raw.train, raw.test).train;
    const first = subset(train, Int32Array.from({ length: 16 }, (_, i) => i));
    const net = modelByName('cnn3', [1, 8, 8], 10, { dtype: 'float64' });
    net.setParameters(c.state.parameters);
    const op = analysis.curvatureOperator(net, { matrix: 'hessian', loss: lossByName('squared'), data: first });
    const ref = analysis.lanczos(op, { k: 2, seed: 0, maxIterations: 80 });
    op.dispose();
    net.dispose();
    expect(o.results.top!.values[0]).toBeCloseTo(ref.values[0], 10);
    expect(o.results.top!.values[1]).toBeCloseTo(ref.values[1], 10);
    // the initial point differs from the trained one
    const init = await spectrum(['--model', 'cnn3', '--data', tiny, '--train-limit', '16', '--top', '1', '--loss', 'squared', '--dtype', 'float64', '--json', '-']);
    expect((JSON.parse(init.out) as SpectrumReport).results.top!.values[0]).not.toBeCloseTo(ref.values[0], 6);
    // --stem is refused with a checkpoint; data that do not fit its model are a usage error
    expect((await spectrum(['--checkpoint', ckpt, '--stem', 'cifar'])).err).toMatch(/a checkpoint records the stem/);
    const wrong = await spectrum(['--checkpoint', ckpt, '--data', 'fashion-mnist-small', '--train-limit', '8']);
    expect(wrong.code).toBe(2);
    expect(wrong.err).toMatch(/the checkpoint's cnn3 takes 1×8×8 images and 10 classes, but the data 'fashion-mnist-small' have 1×28×28 images/);
  });

  test('Ctrl-C (io.signal) stops before the next product: exit code 130', async () => {
    const r = await spectrum(['--model', 'cnn3', '--data', tiny, '--train-limit', '8', '--top', '2'], true);
    expect(r.code).toBe(130);
    expect(r.err).toMatch(/spectrum interrupted/);
  });
});
