// scripts/repro/harness.ts, the shared harness of the paper-reproduction scripts: the statistics
// (mean ± sample std, interpolation at common losses along a run), the markdown tables, and the
// common options with their errors.
import { comparisonTable, durationText, fmtMeanStd, interpolateAlong, linspace, markdownTable, meanStd, parseReproOptions, UsageError } from '../scripts/repro/harness';

test('meanStd: sample std (n − 1), one value has std 0, non-finite values are left out and not counted', () => {
  const s = meanStd([1, 2, 3, 4]);
  expect(s.mean).toBe(2.5);
  expect(s.std).toBeCloseTo(Math.sqrt(5 / 3), 14);
  expect(s.n).toBe(4);
  expect(meanStd([7])).toEqual({ mean: 7, std: 0, n: 1 });
  expect(meanStd([1, NaN, 3, Infinity])).toEqual({ mean: 2, std: Math.SQRT2, n: 2 });
  expect(meanStd([]).n).toBe(0);
  expect(Number.isNaN(meanStd([NaN]).mean)).toBe(true);
  expect(fmtMeanStd(meanStd([1, 2, 3, 4]))).toBe('2.5 ± 1.3 (4 runs)');
  expect(fmtMeanStd(meanStd([7]))).toBe('7 (1 run)');
  expect(fmtMeanStd(meanStd([]))).toBe('—');
});

test('interpolateAlong: linear between the recorded points, in the order of the run, first crossing, no extrapolation', () => {
  // a decreasing loss (x) with a statistic (y)
  const x = [3, 2, 1, 0];
  const y = [30, 10, 5, 0];
  expect(interpolateAlong(x, y, [2.5, 2, 1.2, 0])).toEqual([20, 10, 6, 0]);
  expect(interpolateAlong(x, y, [3.5, -1]).every(Number.isNaN)).toBe(true);
  // the loss rises again after reaching 1: the first time it got to 1.5 counts
  expect(interpolateAlong([2, 1, 2], [0, 10, 100], [1.5])).toEqual([5]);
  expect(() => interpolateAlong([1, 2], [1], [1])).toThrow(/xs has 2 values but ys has 1/);
  expect(linspace(0, 1, 5)).toEqual([0, 0.25, 0.5, 0.75, 1]);
  expect(linspace(2, 3, 1)).toEqual([2]);
});

test('markdownTable and comparisonTable: header, separator, rows; | escaped; row length checked', () => {
  expect(markdownTable(['a', 'b'], [['1', 'x|y']])).toBe('| a | b |\n|---|---|\n| 1 | x\\|y |');
  expect(() => markdownTable(['a', 'b'], [['1']])).toThrow(/row 0 has 1 cells but there are 2 headers/);
  const t = comparisonTable([{ what: 'slope', paper: 'flat', ours: '0.1 ± 0.02 (3 runs)', agrees: 'yes' }], 'reduced; substitute: Fashion-MNIST (bundled subset)');
  expect(t.split('\n')[0]).toBe('|  | paper | ours (mean ± std over runs) | agrees | mode |');
  expect(t).toContain('| slope | flat | 0.1 ± 0.02 (3 runs) | yes | reduced; substitute: Fashion-MNIST (bundled subset) |');
});

test('parseReproOptions: one mode, the defaults, the extras; errors name the option', () => {
  const o = parseReproOptions(['--reduced', '--runs', '3', '--seed', '5', '--epochs', '10', '--relu'], 'paper-x', [
    { name: 'epochs', value: 'N', help: '' },
    { name: 'relu', value: '', help: '', flag: true },
  ])!;
  expect(o.mode).toBe('reduced');
  expect(o.runs).toBe(3);
  expect(o.seed).toBe(5);
  expect(o.out.endsWith('scripts/results/paper-x/reduced')).toBe(true);
  expect(o.extra.get('epochs')).toBe('10');
  expect(o.extra.get('relu')).toBe(true);
  expect(parseReproOptions(['--help'], 'p')).toBeNull();
  const bad: [string[], RegExp][] = [
    [[], /give a mode: --quick, --reduced or --full/],
    [['--quick', '--full'], /give one mode, got --quick and --full/],
    [['--quick', '--runs', '0'], /--runs must be a positive integer, got '0'/],
    [['--quick', '--seed=-1'], /--seed must be a non-negative integer, got '-1'/],
    [['--quick', '--threads', 'two'], /--threads must be a positive integer, got 'two'/],
    [['--quick', '--bogus'], /bogus/],
    [['--quick', '--out', ''], /--out must not be empty/],
  ];
  for (const [argv, re] of bad) {
    let err: unknown;
    try {
      parseReproOptions(argv, 'p');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(re);
  }
});

test('durationText: minutes under an hour, hours under two days (one decimal under 10), then days', () => {
  expect(durationText(0.001)).toBe('1 min');
  expect(durationText(0.5)).toBe('30 min');
  expect(durationText(4.44)).toBe('4.4 h');
  expect(durationText(29.2)).toBe('29 h');
  expect(durationText(5.3 * 24)).toBe('5.3 days');
  expect(durationText(26.5 * 24)).toBe('27 days');
  expect(durationText(400 * 24)).toBe('400 days');
  expect(durationText(NaN)).toBe('—');
});
