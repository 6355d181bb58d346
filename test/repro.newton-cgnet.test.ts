// scripts/repro-newton-cgnet.ts's own pieces: the options (--full refuses without the paper's data),
// the paper's SGD settings, the noise-aware verdict, and the network counts the tables rest on.
import { cifarResNet } from '../lib/nn/resnet';
import { parseReproOptions, UsageError } from '../scripts/repro/harness';
import type * as Script from '../scripts/repro-newton-cgnet';

// by its full name: the extensionless 'scripts/repro-newton-cgnet' is the wrapper, which runs the script
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { EXTRAS, setupFor, sgdSettings, verdict } = require('../scripts/repro-newton-cgnet.ts') as typeof Script;

const setup = (args: string[]) => setupFor(parseReproOptions(args, 'newton-cgnet', EXTRAS)!);

test('--full refuses without the paper data of each chosen column and without ImageNet; --quick refuses --imagenet', () => {
  expect(() => setup(['--full'])).toThrow(UsageError);
  expect(() => setup(['--full'])).toThrow(/--cifar10 DIR/);
  expect(() => setup(['--full', '--columns', 'SVHN'])).toThrow(/--svhn DIR/);
  expect(() => setup(['--full', '--columns', 'SVHN', '--svhn', '/x'])).toThrow(/--cifar10 DIR \(Figure 3\(a\)/);
  expect(() => setup(['--full', '--columns', 'SVHN', '--svhn', '/x', '--cifar10', '/c'])).toThrow(/--imagenet DIR/);
  expect(() => setup(['--full', '--data', 'fashion-mnist-small', '--columns', 'SVHN', '--svhn', '/x', '--no-imagenet'])).toThrow(/--data is for --quick/);
  const full = setup(['--full', '--columns', 'SVHN,C10', '--svhn', '/s', '--cifar10', '/c', '--no-imagenet']);
  expect(full.dataOf['C10+']).toBe('/c');
  expect(full.columns).toEqual(['SVHN', 'C10']);
  expect(full.dataOf.SVHN).toBe('/s');
  expect(full.plan.table4.ncg56).toBe(56);
  expect(() => setup(['--quick', '--imagenet', '/i'])).toThrow(/--full only/);
  expect(() => setup(['--quick', '--columns', 'C10,C20'])).toThrow(/'C20' is not a Table 4 column/);
});

test('--reduced: the substitute for every column, stand-ins paired by parameters, overrides by option', () => {
  const r = setup(['--reduced', '--cifar100', '/c100', '--width', '6']);
  expect(r.dataOf.C10).toBe('fashion-mnist-small');
  expect(r.dataOf['C100+']).toBe('/c100');
  expect(r.plan.width).toBe(6);
  // Newton-CGNet-L has about as many parameters as ResNet-(2L − 2) (Table 3): 56 ↔ 110, so 16 ↔ 30 ≈ 32
  expect(r.plan.table4).toEqual({ ncg56: 16, ncg82: 22, ncg110: 28, resnet110: 32, resnet164: 44 });
});

test('sgdSettings: lr 0.1 ÷10 at the given steps, Nesterov 0.9, and a regulariser 1/(C·l) equal to the weight decay', () => {
  const s = sgdSettings(100, 5e-4, 45000, [50, 75]);
  expect(s).toMatchObject({ learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0, schedule: { kind: 'multistep', milestones: [50, 75], factor: 0.1 } });
  expect(1 / (s.C! * 45000)).toBeCloseTo(5e-4, 12);
  // milestones outside (0, steps) or repeated are dropped; none left: a constant rate
  expect(sgdSettings(2, 1e-4, 10, [1, 1, 2]).schedule).toEqual({ kind: 'multistep', milestones: [1], factor: 0.1 });
  expect(sgdSettings(1, 1e-4, 10, [1]).schedule).toEqual({ kind: 'step', every: 2, factor: 1 });
});

function runs(testError: number, testImages: number): Script.RunRecord[] {
  return [{ testError, testImages } as Script.RunRecord];
}

test('verdict: yes / no beyond two binomial standard errors of the difference, "within noise" inside them', () => {
  // 10% vs 20% on 1,000 images: SE of the difference ≈ 1.6 points
  expect(verdict(runs(10, 1000), runs(20, 1000), true)).toBe('yes');
  expect(verdict(runs(10, 1000), runs(20, 1000), false)).toBe('no');
  expect(verdict(runs(10, 1000), runs(11, 1000), true)).toMatch(/^within noise/);
  expect(verdict(runs(NaN, 1000), runs(11, 1000), true)).toBe('no result');
});

test("ResNet-164 of the paper (2.62M) is the basic-block CIFAR ResNet with n = 27", () => {
  const net = cifarResNet(164, [3, 32, 32], 10);
  try {
    expect(net.numParameters).toBe(2605658);
  } finally {
    net.dispose();
  }
});
