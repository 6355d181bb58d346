// The executor's convolution → ReLU rewrite (note [fusion rewrites] in lib/nn/executor.ts)
// against the unfused composition: the same network with the rewrite turned off
// (graph.fuseConvRelu = false), so conv2d then relu, the ReLU caching its input.
//
// Tolerance: none. conv2dRelu rounds as conv2d followed by relu (native/core/ops/conv.h, note
// [fused conv passes]), and the ReLU's mask from its output is its mask from its input, so
// every pass (z, ∇θ, ∇x, Jv, Jᵀu, Gv, Hv) must give the same bits, in float64 and float32, on
// cnn3 (conv → ReLU → max pool: both rewrites together), on a net whose conv output has two
// consumers (no rewrite there) and on one whose fused ReLU has two consumers.
import { Tensor } from '../lib';
import * as nn from '../lib/nn';
import { Conv2dModule } from '../lib/nn/modules/conv2d';
import { f64, randData } from './helpers';
import { oneHot, passes, perturbConstants, size, type Passes } from './nn-checks';

type Make = (dtype: 'float32' | 'float64') => nn.Network;

const graph = (inputShape: readonly [number, number, number], body: (g: nn.GraphBuilder) => nn.Value) => (dtype: 'float32' | 'float64') => {
  const g = new nn.GraphBuilder(inputShape);
  const net = g.build(body(g), { dtype });
  net.init('he-normal', { seed: 5 });
  return net;
};

const nets: [string, readonly [number, number, number], Make, number][] = [
  // [name, input shape, network, conv2dRelu calls per forward pass]
  ['cnn3, 28×28×1', [1, 28, 28], (dtype) => nn.cnn3([1, 28, 28], 10, { dtype }), 3],
  ['cnn3, 32×32×3', [3, 32, 32], (dtype) => nn.cnn3([3, 32, 32], 10, { dtype }), 3],
  [
    // a = conv(x) feeds relu(a) and add(a, relu(a)): two consumers, nothing fused
    'conv output with two consumers',
    [2, 6, 6],
    graph([2, 6, 6], (g) => {
      const a = g.add(nn.conv2d(3, 3, { padding: 1 }), g.input);
      const r = g.add(nn.relu(), a);
      return g.chain(g.add(nn.add(), [a, r]), [nn.flatten(), nn.linear(3)]);
    }),
    0,
  ],
  [
    // r = relu(conv(x)) fused, then read by a second conv and by add(r, conv(r))
    'fused ReLU with two consumers',
    [2, 6, 6],
    graph([2, 6, 6], (g) => {
      const r = g.chain(g.input, [nn.conv2d(3, 3, { padding: 1 }), nn.relu()]);
      const p = g.add(nn.conv2d(3, 3, { padding: 1, bias: false }), r);
      return g.chain(g.add(nn.add(), [p, r]), [nn.flatten(), nn.linear(3)]);
    }),
    1,
  ],
];

describe.each(nets)('%s: conv → ReLU fused = unfused, bit for bit', (_name, inputShape, make, fusedPerForward) => {
  test.each(['float64', 'float32'] as const)('%s', (dtype) => {
    const net = make(dtype);
    const spy = jest.spyOn(Conv2dModule.prototype, 'forwardRelu');
    try {
      perturbConstants(net, 6);
      const N = 3;
      const x = Tensor.from(Float64Array.from(randData(N * size(inputShape), 7)), { shape: [N, ...inputShape], dtype });
      const y = Tensor.from(Float64Array.from(f64(oneHot(N, net.outputSize, 8))), { shape: [N, net.outputSize], dtype });
      net.graph.fuseConvRelu = true;
      const fused = passes(net, x, y);
      // one forward pass: the products reuse its cache
      expect(spy).toHaveBeenCalledTimes(fusedPerForward);
      spy.mockClear();
      net.graph.fuseConvRelu = false;
      const plain = passes(net, x, y);
      expect(spy).not.toHaveBeenCalled();
      for (const k of Object.keys(fused) as (keyof Passes)[]) {
        expect({ pass: k, values: Array.from(fused[k]) }).toEqual({ pass: k, values: Array.from(plain[k]) });
      }
      x.dispose();
      y.dispose();
    } finally {
      spy.mockRestore();
      net.dispose();
    }
  });
});
