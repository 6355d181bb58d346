// `train --log` (JSON Lines / CSV, streamed), `plot`, `--validation` / `--early-stop`, the
// schedules, Newton progress on a terminal, help sections wrapped to the width, "did you mean",
// and the image-folder message (issue 16).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { main } from '../lib/cli';
import { parseTrainArgs } from '../lib/cli/args';
import { sgdOptions } from '../lib/cli/commands/train';
import { readRunLog } from '../lib/train/run-log';
import { fakeIo, NEWTON_TINY, TINY } from './cli.helpers';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'newton-cli-log-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('Newton --log run.jsonl: a start record, one per iteration (objective, λ, CG steps, test accuracy), a final one; progress on a terminal', async () => {
  const f = fakeIo(dir);
  Object.assign(f.err, { isTTY: true, columns: 100 });
  expect(await main(['train', ...NEWTON_TINY, '--iterations', '2', '--log', 'newton.jsonl'], f.io)).toBe(0);
  const records = readRunLog(path.join(dir, 'newton.jsonl'));
  expect(records.map((r) => r.kind)).toEqual(['start', 'iteration', 'iteration', 'final']);
  const it = records[1];
  expect(it).toMatchObject({ optimizer: 'newton', iteration: 1, lambda: 1 });
  for (const k of ['time', 'objective', 'cgSteps', 'testAccuracy', 'rho', 'stepSize'] as const) expect(typeof it[k]).toBe('number');
  expect(records[2].time).toBeGreaterThan(it.time);
  expect(records[3].testAccuracy).toBeCloseTo(records[2].testAccuracy!, 12);
  // the phases of the iteration were drawn, redrawn in place, within 80 columns, and erased
  expect(f.err.text).toMatch(/\riter 1\/2 \[[#-]+\] grad \d+\/\d+/);
  expect(f.err.text).toMatch(/\riter \d\/2 .*CG \d+\/10/);
  for (const line of f.err.text.split('\r')) expect(line.replace(/\x1b\[K/g, '').length).toBeLessThanOrEqual(80);
  expect(f.err.text.endsWith('\r\x1b[K')).toBe(true);
});

test('--validation N holds out N images (the papers: 5,000 of CIFAR), stratified', async () => {
  const f = fakeIo(dir);
  expect(await main(['train', ...TINY, '--epochs', '1', '--validation', '40', '--json', '--quiet'], f.io)).toBe(0);
  const j = JSON.parse(f.out.text) as { validation: { accuracy: number }; data: { train: number } };
  expect(j.data.train).toBe(216);
  expect(j.validation.accuracy).toBeGreaterThanOrEqual(0);
  const g = fakeIo(dir);
  expect(await main(['train', ...TINY, '--epochs', '1', '--validation', '256'], g.io)).toBe(2);
  expect(g.err.text).toMatch(/--validation 256 of 256 training images leaves no training images/);
});

test('SGD --log run.csv with --validation and --early-stop; plot both logs as SVG and PNG', async () => {
  const f = fakeIo(dir);
  const code = await main(['train', ...TINY, '--epochs', '3', '--validation', '0.25', '--early-stop', '1', '--schedule', 'cosine', '--log', 'sgd.csv', '--json'], f.io);
  expect(code).toBe(0);
  const j = JSON.parse(f.out.text) as { validation: { accuracy: number; best: number; bestAt: number; stoppedEarly: boolean }; data: { train: number } };
  expect(j.data.train).toBe(192); // 256 − 25% held out
  expect(j.validation.best).toBeGreaterThanOrEqual(0);
  expect(j.validation.bestAt).toBeGreaterThanOrEqual(1);
  const records = readRunLog(path.join(dir, 'sgd.csv'));
  const epochs = records.filter((r) => r.kind === 'epoch');
  expect(epochs.length).toBeGreaterThanOrEqual(1);
  expect(epochs.length).toBe(j.validation.stoppedEarly ? epochs.length : 3);
  for (const r of epochs) {
    expect(r).toMatchObject({ optimizer: 'sgd' });
    for (const k of ['time', 'objective', 'testAccuracy', 'validationAccuracy', 'learningRate'] as const) expect(typeof r[k]).toBe('number');
  }
  expect(records[records.length - 1].kind).toBe('final');

  const p = fakeIo(dir);
  expect(await main(['plot', 'newton.jsonl', 'sgd.csv', '-o', 'curves.svg'], p.io)).toBe(0);
  const svg = fs.readFileSync(path.join(dir, 'curves.svg'), 'utf8');
  expect(svg.startsWith('<svg')).toBe(true);
  for (const t of ['>newton<', '>sgd<', 'test accuracy', 'time (s)', 'epoch (SGD) / iteration (Newton)']) expect(svg).toContain(t);
  expect(p.out.text).toMatch(/^plot: .*curves\.svg: newton \(2 points\), sgd \(\d points\)\n$/);
  const png = fakeIo(dir);
  expect(await main(['plot', 'newton.jsonl', '--names', 'Newton', '-o', 'curves.png'], png.io)).toBe(0);
  expect(fs.readFileSync(path.join(dir, 'curves.png')).subarray(1, 4).toString()).toBe('PNG');
  // usage errors
  for (const [argv, re] of [
    [['plot', '-o', 'x.svg'], /give at least one run log/],
    [['plot', 'newton.jsonl'], /--output FILE \(-o\) is required/],
    [['plot', 'newton.jsonl', '-o', 'x.pdf'], /must end in \.svg or \.png/],
    [['plot', 'newton.jsonl', 'newton.jsonl', '-o', 'x.svg'], /two runs are named 'newton'/],
    [['plot', 'newton.jsonl', '--ouput', 'x.svg'], /unknown option '--ouput'; did you mean --output\?/],
  ] as Array<[string[], RegExp]>) {
    const e = fakeIo(dir);
    expect(await main(argv, e.io)).toBe(2);
    expect(e.err.text).toMatch(re);
  }
});

test('train --help: five sections, every line within the terminal width', async () => {
  for (const columns of [60, 80, 100]) {
    const f = fakeIo(dir);
    Object.assign(f.out, { isTTY: true, columns });
    expect(await main(['train', '--help'], f.io)).toBe(0);
    const lines = f.out.text.trimEnd().split('\n');
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(columns);
    const order = ['Common options:', 'Newton options (', 'SGD options (', 'Data options:', 'Output, checkpoints and logs:'].map((s) => f.out.text.indexOf(s));
    expect(order.every((x, i) => x > 0 && (i === 0 || x > order[i - 1]))).toBe(true);
    const sgd = f.out.text.slice(order[2], order[3]);
    for (const flag of ['--epochs', '--lr ', '--schedule', '--warmup', '--milestones']) expect(sgd).toContain(flag);
    expect(f.out.text.slice(order[1], order[2])).toContain('--cg-max');
  }
  const plain = fakeIo(dir); // not a terminal: 80 columns
  await main(['train', '--help'], plain.io);
  for (const line of plain.out.text.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
});

test('did you mean, --epochs with Newton, image folders', async () => {
  expect(() => parseTrainArgs(['--iteratons', '3'], dir)).toThrow(/unknown option '--iteratons'; did you mean --iterations\?/);
  expect(() => parseTrainArgs(['--sampling-rat', '0.1'], dir)).toThrow(/did you mean --sampling-rate\?/);
  expect(() => parseTrainArgs(['--zzzzzz'], dir)).toThrow(/^unknown option '--zzzzzz'$/);
  expect(() => parseTrainArgs(['--epochs', '5'], dir)).toThrow(/write --optimizer sgd --epochs 5 to train with SGD, or --iterations N/);
  const photos = path.join(dir, 'photos');
  fs.mkdirSync(path.join(photos, 'cat'), { recursive: true });
  fs.writeFileSync(path.join(photos, 'cat', 'a.png'), 'x');
  fs.writeFileSync(path.join(photos, 'cat', 'b.JPG'), 'x');
  const f = fakeIo(dir);
  expect(await main(['train', '--data', 'photos'], f.io)).toBe(2);
  expect(f.err.text).toMatch(/--data: 'photos' is a folder of 2 PNG\/JPEG images, but not an image-folder data set: newton-cnn train reads one as photos\/train\/CLASS\/\*\.jpg .*photos\/val\/CLASS.*It reads an IDX directory .*CIFAR-10\/100 binary directory.*image folder.*LIBSVM file/);
});

test('schedules and validation options: parsed, checked, turned into Sgd schedules', () => {
  const p = (argv: string[]) => parseTrainArgs(['--optimizer', 'sgd', ...argv], dir)!;
  expect(sgdOptions(p(['--schedule', 'cosine', '--epochs', '4', '--lr-min', '0.0001']), 10).schedule).toEqual({ kind: 'cosine', steps: 40, minimum: 0.0001 });
  expect(sgdOptions(p(['--schedule', 'cosine', '--iterations', '25']), 10).schedule).toEqual({ kind: 'cosine', steps: 25, minimum: 0 });
  expect(sgdOptions(p(['--schedule', 'step', '--step-every', '1.5', '--lr-factor', '0.5']), 10).schedule).toEqual({ kind: 'step', every: 15, factor: 0.5 });
  expect(sgdOptions(p(['--milestones', '1,2']), 10).schedule).toMatchObject({ kind: 'multistep', milestones: [10, 20] });
  expect(sgdOptions(p(['--schedule', 'cosine', '--warmup', '0.5']), 10)).toMatchObject({ warmup: 5 });
  expect(() => p(['--schedule', 'step'])).toThrow(/--schedule step needs --step-every E/);
  expect(() => p(['--lr-min', '0.001'])).toThrow(/--lr-min is for --schedule cosine \(give --schedule cosine\)/);
  expect(() => p(['--schedule', 'cosine', '--decay', '0.1'])).toThrow(/--decay .* has no effect with --schedule cosine/);
  expect(() => p(['--schedule', 'cosine', '--milestones', '1'])).toThrow(/--milestones is for --schedule multistep, not cosine/);
  expect(() => p(['--schedule', 'cosine', '--lr-min', '1'])).toThrow(/--lr-min 1 must be below --lr 0.003/);
  expect(() => p(['--schedule', 'linear'])).toThrow(/--schedule must be one of: inverse, step, multistep, cosine/);
  expect(() => parseTrainArgs(['--schedule', 'cosine'], dir)).toThrow(/--schedule is an SGD option/);
  expect(() => p(['--validation', '1.5'])).toThrow(/--validation must be a fraction in \(0, 1\) of the training set \(e.g. 0.1\) or a whole number of images \(e.g. 5000\), got 1.5/);
  expect(() => p(['--validation', '0'])).toThrow(/--validation must be a fraction/);
  expect(p(['--validation', '5000'])).toMatchObject({ validation: 5000 });
  expect(() => p(['--early-stop', '3'])).toThrow(/--early-stop needs --validation F/);
  expect(p(['--validation', '0.1', '--early-stop', '3'])).toMatchObject({ validation: 0.1, earlyStop: 3 });
  expect(() => p(['--log', path.join(dir, 'nowhere', 'x.jsonl')])).toThrow(/--log: no such directory/);
});
