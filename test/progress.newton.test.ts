// lib/progress's Newton display (phases, rate, ETA, ≤ 80 columns, plain lines) and the
// per-iteration Newton line of the CLI (≤ 80 columns whatever the values).
import { Capture } from './cli.helpers';
import { newtonIterationLine } from '../lib/cli/commands/train';
import { fitParts, Progress, type NewtonProgressUpdate } from '../lib/progress';
import type { NewtonIteration } from '../lib/train';

const update = (o: Partial<NewtonProgressUpdate> = {}): NewtonProgressUpdate => ({
  iteration: 3, iterations: 20, phase: 'cg', step: 45, steps: 250, iterationElapsed: 4, secondsPerIteration: 9.1, objective: 0.23456, ...o,
});

test('terminal: one redrawn line with the phase, s/it and the ETA, at most 80 columns', () => {
  const err = Object.assign(new Capture(), { isTTY: true, columns: 200 });
  let now = 0;
  const p = new Progress(err, { now: () => now });
  p.newton(update());
  expect(err.text).toMatch(/^\riter 3\/20 \[#+-+\] CG 45\/250 {2}9\.1s\/it {2}ETA 2m40s {2}f 0\.2346\x1b\[K$/); // (20 − 3 + 1)·9.1 − 4 s left
  now = 50; // throttled within a phase…
  p.newton(update({ step: 46 }));
  expect(err.text.split('\r')).toHaveLength(2);
  p.newton(update({ phase: 'line-search', step: 1, steps: 3, stepSize: 0.5 })); // …but not at a phase change
  expect(err.text).toContain('search α=0.5 1/3');
  for (const line of err.text.split('\r').slice(1)) expect(line.replace('\x1b[K', '').length).toBeLessThanOrEqual(80);
  p.clear();
  expect(err.text.endsWith('\r\x1b[K')).toBe(true);
  // before the first iteration completes: no rate yet, no ETA
  expect(p.newtonLine(update({ iteration: 1, secondsPerIteration: NaN, phase: 'gradient', step: 2, steps: 9, objective: undefined }))).toMatch(/^iter 1\/20 \[-+\] grad 2\/9 {2}4s in it {2}ETA \?$/);
  // a huge run still fits
  expect(p.newtonLine(update({ iteration: 12345, iterations: 99999, step: 12345, steps: 99999, secondsPerIteration: 1234.5, iterationElapsed: 1e5 })).length).toBeLessThanOrEqual(79);
});

test('not a terminal: a plain line at a phase change, at most every plainEveryMs', () => {
  const err = new Capture();
  let now = 0;
  const p = new Progress(err, { now: () => now, plainEveryMs: 1000 });
  p.newton(update({ phase: 'gradient', step: 1, steps: 9 }));
  expect(err.text).toBe(''); // quick iterations print nothing but their iteration lines
  now = 1500;
  p.newton(update({ phase: 'gradient', step: 2, steps: 9 })); // same phase: nothing
  p.newton(update({ phase: 'cg', step: 1 }));
  expect(err.text).toMatch(/^iter 3\/20 .*CG 1\/250 .*ETA .*\n$/);
  now = 1600;
  p.newton(update({ phase: 'line-search', step: 1, steps: 9, stepSize: 1 }));
  expect(err.text.split('\n')).toHaveLength(2); // throttled
  expect(err.text).not.toContain('\r');
});

test('newtonIterationLine: at most 80 columns, dropping ‖∇f‖, α, ρ in that order', () => {
  const it = (o: Partial<NewtonIteration>): NewtonIteration => ({
    iteration: 3, iterations: 20, initialObjective: 1, objective: 0.234567, gradientNorm: 0.0123, trainAccuracy: 0.5, subsampleSize: 26, cgSteps: 45, cgRelativeResidual: 0.09,
    cgStop: 'tolerance', lambda: 0.667, nextLambda: 0.444, rho: 0.812, stepSize: 1, lineSearchSteps: 1, accepted: true,
    times: { gradient: 1, cg: 5, lineSearch: 2, evaluation: 1.1 }, testAccuracy: 0.8123, elapsed: 30, ...o,
  } as NewtonIteration);
  expect(newtonIterationLine(it({ testAccuracy: undefined }))).toBe('iteration 3/20  f 0.234567  |grad| 0.0123  CG 45  λ 0.667  ρ 0.812  α 1  9.1s');
  expect(newtonIterationLine(it({}))).toBe('iteration 3/20  f 0.234567  CG 45  λ 0.667  ρ 0.812  α 1  9.1s  test 0.8123'); // |grad| left out to fit
  const wide = newtonIterationLine(it({ iteration: 100, iterations: 100, objective: 1234.567891, gradientNorm: 1.2345e-7, cgSteps: 250, lambda: 0.00012345, stepSize: 0.0625, times: { gradient: 100, cg: 500, lineSearch: 200, evaluation: 30 } }));
  expect(wide.length).toBeLessThanOrEqual(80);
  expect(wide).toBe('iteration 100/100  f 1234.567891  CG 250  λ 0.000123  830.0s  test 0.8123'); // ‖∇f‖, α and ρ left out
  expect(newtonIterationLine(it({ accepted: false, rho: NaN, stepSize: 0 }))).toContain('no step (λ raised)');
  expect(newtonIterationLine(it({}), 0.75)).toMatch(/val 0\.7500$/);
  expect(fitParts(['aaaa', 'bbbb', 'cccc'], 10)).toBe('aaaa  bbbb');
});
