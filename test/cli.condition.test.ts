// `newton-cnn condition`: argument parsing and bad usage (exit code 2 naming the option), and a
// run through main() with captured streams on the bundled data: one point per (n, depth that n
// divides), the JSON equal to the library's conditionVersusDepth on the same whitened components,
// the table and the plot.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import * as analysis from '../lib/analysis';
import { main } from '../lib/cli';
import { UsageError } from '../lib/cli/args';
import { conditionUsage, parseConditionArgs } from '../lib/cli/condition-args';
import { loadDataset, principalComponents, subset } from '../lib/data';
import { lapackAvailable } from '../lib/linalg';
import { plottingAvailable } from '../lib/plot';
import { fakeIo } from './cli.helpers';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'newton-cli-condition-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function condition(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const { io, out, err } = fakeIo(dir);
  const code = await main(['condition', ...argv], io);
  return { code, out: out.text, err: err.text };
}

describe('parsing', () => {
  test('defaults: n = 1, 2, 3 at depths 6, 12, 18, 24, width 10, 1000 images', () => {
    const a = parseConditionArgs([], dir)!;
    expect(a).toMatchObject({ shortcuts: [1, 2, 3], depths: [6, 12, 18, 24], width: 10, runs: 1, seed: 0, examples: 1000, maxParameters: 4096, data: 'fashion-mnist-small' });
    expect(parseConditionArgs(['--help'])).toBeNull();
    expect(conditionUsage()).toMatch(/Demystifying ResNet/);
  });

  test.each([
    [['--shortcuts', '1,x'], /--shortcuts must be integers/],
    [['--shortcuts', '2,2'], /names a value twice/],
    [['--depths', '0,4'], /--depths: every value must be at least 1/],
    [['--depths', '60'], /depth 60 at width 10 has 6000 parameters > --max-parameters 4096/],
    [['--shortcuts', '4', '--depths', '6'], /no multiple of the shortcut depth 4/],
    [['--init', 'random'], /--init must be one of: zero, xavier, orthogonal, he-normal/],
    [['--train-limit', '1'], /at least 2/],
    [['--plot', path.join('no', 'such', 'dir', 'x.svg')], /no such directory/],
    [['--bogus'], /unknown option/],
  ])('%j → UsageError', (argv, re) => {
    expect(() => parseConditionArgs(argv as string[], dir)).toThrow(UsageError);
    expect(() => parseConditionArgs(argv as string[], dir)).toThrow(re);
  });
});

(lapackAvailable() ? test : test.skip)('a run: the JSON equals the library’s curve on the same whitened components; table and plot', async () => {
  const plot = path.join(dir, 'condition.svg');
  const args = ['--shortcuts', '0,1,2', '--depths', '2,3,4', '--train-limit', '200', '--runs', '2', '--json', '-', '--quiet'];
  const r = await condition(plottingAvailable() ? [...args, '--plot', plot] : args);
  expect(r.code).toBe(0);
  const json = JSON.parse(r.out) as { points: analysis.ConditionPoint[]; data: { examples: number } };
  expect(json.data.examples).toBe(200);
  expect(json.points.map((p) => `${p.shortcut}:${p.depth}`)).toEqual(['0:2', '0:3', '0:4', '1:2', '1:3', '1:4', '2:2', '2:4']);
  const raw = await loadDataset('fashion-mnist-small');
  const train = subset(raw.train, Int32Array.from({ length: 200 }, (_, i) => i));
  const pcs = principalComponents(train, 10);
  const y = new Float64Array(200 * 10);
  for (let i = 0; i < 200; i++) y[i * 10 + train.labels[i]] = 1;
  const lib = analysis.conditionVersusDepth({ x: pcs.features, y, examples: 200 }, { shortcuts: [2], depths: [4], runs: 2 });
  expect(json.points[7].conditionNumbers10).toEqual(lib[0].conditionNumbers10);
  // The 2-shortcut network's condition number does not grow with depth (the paper's point).
  expect(json.points[7].mean / json.points[6].mean).toBeLessThan(1.2);
  if (plottingAvailable()) expect(fs.readFileSync(plot, 'utf8')).toMatch(/^<svg[\s\S]*<path/);
  const table = await condition(['--shortcuts', '2', '--depths', '2', '--train-limit', '50']);
  expect(table.code).toBe(0);
  expect(table.out).toMatch(/n\s+depth\s+parameters\s+max\|λ\|\/\|λ\|10%/);
  expect(table.out).toMatch(/^2\s+2\s+200\s/m);
  expect(table.err).toMatch(/n = 2, depth 2: run 1\/1 done/);
}, 60_000);

test('the width must be the number of classes', async () => {
  const r = await condition(['--width', '5', '--depths', '5', '--shortcuts', '1', '--train-limit', '20']);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/--width 5: .* the number of classes of the data, 10/);
});
