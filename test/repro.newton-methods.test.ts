// scripts/repro-newton-methods-for-cnn.ts: the modes and options, the runs shared by Tables 5, 6
// and Figure 3, Figure 3's curves (mean over runs, time to a target accuracy, the plot's shared x),
// and the full mode's work for the GPU estimate. The training itself is CI's --quick run.
import type { Curve } from '../scripts/repro-newton-methods-for-cnn';
import { parseReproOptions, UsageError } from '../scripts/repro/harness';

// With the extension: the extensionless path is the bin shim (scripts/repro-newton-methods-for-cnn),
// which jest would load first and which runs the script.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const script = require('../scripts/repro-newton-methods-for-cnn.ts') as typeof import('../scripts/repro-newton-methods-for-cnn');
const { distinctRuns, EXTRAS, figure3Plot, figure3Specs, fullWork, meanCurve, pctCell, planFor, PLANS, timeToReach } = script;

const plan = (args: string[]) => planFor(parseReproOptions(args, 'newton-methods-for-cnn', EXTRAS)!);

test('modes: the old reduced run (2,000 images, 15 iterations, 10 epochs, 1 run) plus 2 runs per Figure 3 curve; --full is the paper’s', () => {
  const r = plan(['--reduced']);
  expect([r.trainLimit, r.newtonIterations, r.sgdEpochs, r.tableRuns, r.figureRuns, r.cgMax]).toEqual([2000, 15, 10, 1, 2, 250]);
  const f = plan(['--full']);
  expect([f.trainLimit, f.testLimit, f.newtonIterations, f.sgdEpochs, f.tableRuns, f.figureRuns, f.cgMax]).toEqual([undefined, undefined, 100, 1000, 5, 5, 250]);
  expect(plan(['--quick']).cgMax).toBe(10);
  // --runs replaces the old --seeds: every cell and every curve
  const q = plan(['--quick', '--runs', '3', '--newton-iterations', '4', '--sgd-epochs', '2', '--train-limit', '100', '--shape', '1,28,28', '--format', 'idx']);
  expect([q.tableRuns, q.figureRuns, q.newtonIterations, q.sgdEpochs, q.trainLimit, q.shape, q.format]).toEqual([3, 3, 4, 2, 100, [1, 28, 28], 'idx']);
  expect([...plan(['--quick', '--tables', '6,figure3']).parts].sort()).toEqual(['figure3', 'table6']);
  expect(plan(['--quick', '--target', '80,90']).targets).toEqual([0.8, 0.9]);
  expect([plan(['--quick']).clock, plan(['--quick', '--clock', 'cpu']).clock]).toEqual(['wall', 'cpu']);
  // the mode's plan is not changed by the options
  expect(PLANS.quick.tableRuns).toBe(1);
  expect(PLANS.quick.parts.size).toBe(3);
});

test('bad options are UsageErrors naming the option', () => {
  expect(() => plan(['--quick', '--tables', '3'])).toThrow(UsageError);
  expect(() => plan(['--quick', '--tables', '3'])).toThrow(/--tables takes 5, 6 and figure3/);
  expect(() => plan(['--quick', '--format', 'png'])).toThrow(/--format must be idx, cifar or libsvm/);
  expect(() => plan(['--quick', '--shape', '1,28'])).toThrow(/--shape must be C,H,W/);
  expect(() => plan(['--quick', '--target', '120'])).toThrow(/--target/);
  expect(() => plan(['--quick', '--clock', 'gpu'])).toThrow(/--clock must be wall or cpu/);
  expect(() => plan(['--quick', '--sgd-epochs', '0'])).toThrow(/--sgd-epochs must be a positive integer/);
  expect(() => parseReproOptions(['--quick', '--seeds', '2'], 'newton-methods-for-cnn', EXTRAS)).toThrow(UsageError);
});

test('a run serves every table and the figure: Table 5’s cnn3 cells are Table 6’s and Figure 3’s; Figure 3’s come first, with curves', () => {
  const p = plan(['--quick']);
  const runs = distinctRuns(p);
  // Figure 3: 3; Table 5: + 2 (cnn5); Table 6: 30 − 2 (the C = 0.01l, 5% and η0 0.003 cells)
  expect(runs.length).toBe(33);
  expect(runs.slice(0, 3).map((r) => [r.spec.method, r.curve, r.runs])).toEqual([
    ['newton', true, 2],
    ['sgd', true, 2],
    ['sgd-plain', true, 2],
  ]);
  expect(runs.filter((r) => r.curve).length).toBe(3);
  expect(runs.slice(3).every((r) => r.runs === 1)).toBe(true);
  expect(figure3Specs(p).every((s) => s.model === 'cnn3' && s.C === 0.01)).toBe(true);
  // another SG η0 for cnn3 makes Figure 3’s SG runs Table 5’s but not Table 6’s
  expect(distinctRuns(plan(['--quick', '--sgd-lr-cnn3', '0.002'])).length).toBe(34);
  expect(distinctRuns(plan(['--quick', '--tables', '5'])).length).toBe(4);
});

test('Figure 3: mean curve per step, time to a target, the plot’s points at each method’s own times', () => {
  const a: Curve = { step: [0, 1, 2], seconds: [0, 1, 2], cpuSeconds: [0, 1, 2], accuracy: [0.1, 0.5, 0.7] };
  const b: Curve = { step: [0, 1, 2], seconds: [0, 3, 4], cpuSeconds: [0, 3, 4], accuracy: [0.1, 0.7, 0.9] };
  expect(timeToReach(a, 0.5)).toBe(1);
  expect(timeToReach(a, 0.6)).toBe(2);
  expect(Number.isNaN(timeToReach(a, 0.8))).toBe(true);
  const m = meanCurve([a, b]);
  expect(m.seconds).toEqual([0, 2, 3]);
  expect(m.accuracy[1]).toBeCloseTo(0.6, 12);
  expect(m.std[1]).toBeCloseTo(Math.SQRT2 * 0.1, 12);
  const one = meanCurve([{ step: [0, 1], seconds: [0, 5], cpuSeconds: [0, 5], accuracy: [0.1, 0.3] }]);
  const p = figure3Plot('t', [
    { name: 'Newton', curve: m },
    { name: 'SG', curve: one },
  ], true);
  expect(p.x.values).toEqual([0, 2, 3, 5]);
  expect(p.series[0].values.map((v) => (Number.isNaN(v) ? null : Math.round(v)))).toEqual([10, 60, 80, null]);
  expect(p.series[1].values.map((v) => (Number.isNaN(v) ? null : Math.round(v)))).toEqual([10, null, null, 30]);
  expect(p.series[0].errors).toHaveLength(4);
  expect(figure3Plot('t', [{ name: 'SG', curve: one }], false).series[0].errors).toBeUndefined();
});

test('pctCell: percent, mean ± std over runs, diverged runs counted', () => {
  expect(pctCell({ mean: 0.7795, std: 0, n: 1, diverged: 0, runs: 1 })).toBe('77.95%');
  expect(pctCell({ mean: 0.8, std: 0.01, n: 2, diverged: 1, runs: 3 })).toBe('80.00 ± 1.00% (2 runs) (1/3 diverged)');
  expect(pctCell({ mean: NaN, std: NaN, n: 0, diverged: 2, runs: 2 })).toBe('diverged');
});

test('the full mode’s work: 5 runs of every distinct run, Newton passes from the CG steps per iteration', () => {
  const per = { cnn3: { cg: 10, lineSearch: 1 }, cnn5: { cg: 20, lineSearch: 2 } };
  const w = fullWork(1000, 100, per);
  const cnn3 = w.find((x) => x.model === 'cnn3')!;
  const cnn5 = w.find((x) => x.model === 'cnn5')!;
  // cnn3: Newton 9 runs (3 C × 3 rates), SG 21 + 1 without momentum; cnn5: 1 Newton, 1 SG; 5 seeds each
  expect(cnn3.runs).toBe(5 * 31);
  expect(cnn5.runs).toBe(5 * 2);
  expect(cnn5.work.gradientImages).toBe(5 * 100 * 1000);
  expect(cnn5.work.gvImages).toBe(5 * 100 * 20 * 50);
  expect(cnn5.work.forwardImages).toBe(5 * 100 * 2 * 1000);
  expect(cnn5.work.trainImages).toBe(5 * 1000 * 1000);
  expect(cnn5.work.evalImages).toBe(2 * 5 * 100);
  // cnn3's Figure 3 runs are evaluated after every iteration / epoch: 101 + 1001 + 1001 evaluations, the 28 others once
  expect(cnn3.work.evalImages).toBe(5 * 100 * (101 + 1001 + 1001 + 28));
  expect(cnn3.work.trainImages).toBe(5 * 1000 * 22 * 1000);
});
