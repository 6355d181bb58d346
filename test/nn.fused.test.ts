// The fused modules (lib/nn/modules/fused.ts) against the same blocks built from element-wise
// modules (`fused: false`): the builders give both the same θ layout, so one θ serves both and
// every pass must agree — the outputs, ∇θ, ∇x, Jv, Jᵀu, Gv and Hv — in float64 and float32, with
// batch norm on batch and on running statistics.
//
// Tolerances: the fused kernels round in the unfused order where they can (y = φ((a + b) + α·(p·q)),
// d = −(((y + g1) + g2) + g3) + β·dprev), so the forward passes agree to the last bit; the
// backward and R-operator passes add the same terms in another order (and sum the scalar
// gradients in double where the unfused channelDot also does), so they agree to rounding:
// 1e-12 relative in float64, 2e-5 in float32 (a few ulps through a dozen layers).
import { Tensor } from '../lib';
import * as nn from '../lib/nn';
import { expectClose, f64, randData } from './helpers';
import { oneHot, passes, perturbConstants, size, type Mode, type Passes } from './nn-checks';

type Build = (g: nn.GraphBuilder, fused: boolean) => nn.Value;
const head = (g: nn.GraphBuilder, v: nn.Value): nn.Value => g.chain(v, [nn.globalAvgPool2d(), nn.linear(3)]);

const blocks: [string, readonly [number, number, number], Build][] = [
  ['Newton block, lin_proj 1 (a + b + α·p)', [2, 4, 4], (g, fused) => head(g, nn.newtonBlock(g, g.input, 3, { stride: 2, fused }))],
  ['Newton block, lin_proj 0 (a + b + α·p⊙q)', [2, 4, 4], (g, fused) => head(g, nn.newtonBlock(g, g.input, 2, { linProj: 0, alpha: 0.6, fused }))],
  ['linear Newton block (φ the identity), tanh φ2', [2, 4, 4], (g, fused) => head(g, nn.newtonBlock(g, g.input, 2, { activation: 'identity', secondOrderActivation: 'tanh', fused }))],
  ['Newton bottleneck block', [4, 4, 4], (g, fused) => head(g, nn.newtonBottleneckBlock(g, g.input, 1, { fused }))],
  ['Newton-CG block, N = 3, projection, stride 2', [2, 4, 4], (g, fused) => head(g, nn.newtonCgBlock(g, g.input, 3, { blocks: 3, stride: 2, dropout: 0, fused }))],
  ['Newton-CG block, N = 2, no projection', [2, 3, 3], (g, fused) => head(g, nn.newtonCgBlock(g, g.input, 2, { blocks: 2, dropout: 0, fused }))],
];

describe.each(blocks)('%s: fused = unfused', (_name, inputShape, build) => {
  test.each([
    ['float64', 'train'],
    ['float64', 'inference'],
    ['float32', 'train'],
  ] as const)('%s, %s mode', (dtype, mode) => {
    const make = (fused: boolean): nn.Network => {
      const g = new nn.GraphBuilder(inputShape);
      const net = g.build(build(g, fused), { dtype });
      net.init('he-normal', { seed: 5 });
      perturbConstants(net, 6);
      return net;
    };
    const fused = make(true);
    const plain = make(false);
    try {
      expect(fused.layers().some((m) => m.kind === 'newtonResidual' || m.kind === 'cgNetUpdate')).toBe(true);
      expect(plain.layers().some((m) => m.kind === 'newtonResidual' || m.kind === 'cgNetUpdate')).toBe(false);
      // One θ layout (the initial values differ: each module draws with its node index, and the
      // fused graph has fewer nodes), so the unfused network takes the fused one's θ and buffers.
      expect(plain.numParameters).toBe(fused.numParameters);
      expect(plain.layers().flatMap((m) => m.parameters.map((p) => `${p.offset}:${p.size}`))).toEqual(
        expect.arrayContaining(fused.layers().flatMap((m) => m.parameters.map((p) => `${p.offset}:${p.size}`))),
      );
      plain.setParameters(fused.getParameters());
      plain.setBuffers(fused.getBuffers());
      const N = 3;
      const x = Tensor.from(Float64Array.from(randData(N * size(inputShape), 7)), { shape: [N, ...inputShape], dtype });
      const y64 = oneHot(N, 3, 8);
      const y = dtype === 'float64' ? y64 : Tensor.from(Float32Array.from(f64(y64)), { shape: [N, 3] });
      const a = passes(fused, x, y, mode);
      const b = passes(plain, x, y, mode);
      const tol = dtype === 'float64' ? { rtol: 1e-12, atol: 1e-13 } : { rtol: 2e-5, atol: 2e-6 };
      for (const k of Object.keys(a) as (keyof Passes)[]) expectClose(a[k], b[k], tol, k);
      for (const t of [x, y64, y]) if (!t.disposed) t.dispose();
    } finally {
      fused.dispose();
      plain.dispose();
    }
  });
});

test('the fused forward passes round as the unfused ones: identical bits in float32', () => {
  for (const [, inputShape, build] of blocks) {
    const nets = [true, false].map((fused) => {
      const g = new nn.GraphBuilder(inputShape);
      const net = g.build(build(g, fused), { dtype: 'float32' });
      net.init('he-normal', { seed: 9 });
      return net;
    });
    nets[1].setParameters(nets[0].getParameters());
    const x = Tensor.from(Float32Array.from(randData(2 * size(inputShape), 10)), { shape: [2, ...inputShape] });
    const [za, zb] = nets.map((n) => n.forward(x, { batchStatistics: true }));
    expect(Array.from(za.toArray())).toEqual(Array.from(zb.toArray()));
    for (const t of [x, za, zb]) t.dispose();
    for (const n of nets) n.dispose();
  }
});

