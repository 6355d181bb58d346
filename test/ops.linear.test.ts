// linear / linearBackward against x·wᵀ + b and its gradients.
// Tolerance: helpers.accumTol with the number of terms of each sum (I for y, O for dx, N for
// dw and db).
import * as nc from '../lib';
import * as ref from './reference';
import { accumTol, describeEachBackend, expectClose, expectEqualArrays, f64, randTensor } from './helpers';

// [N, I, O]
const sizes: [number, number, number][] = [
  [1, 1, 1],
  [1, 7, 3],
  [7, 1, 13],
  [13, 31, 7],
  [31, 3, 1],
  [2, 130, 17],
];

describeEachBackend('linear', (b) => {
  for (const dtype of b.dtypes) {
    describe(dtype, () => {
      test.each(sizes)('N=%i I=%i O=%i', (N, I, O) => {
        const X = randTensor([N, I], 301, dtype, b.device);
        const W = randTensor([O, I], 302, dtype, b.device);
        const B = randTensor([O], 303, dtype, b.device);
        const DY = randTensor([N, O], 304, dtype, b.device);

        const y = nc.linear(X.t, W.t, B.t);
        expect(y.shape).toEqual([N, O]);
        expect(y.dtype).toBe(dtype);
        expectClose(f64(y), ref.refLinear(X.v, N, I, W.v, O, B.v), accumTol(dtype, I + 1, b), 'linear with bias');
        for (const none of [undefined, null]) {
          const y0 = nc.linear(X.t, W.t, none);
          expectClose(f64(y0), ref.refLinear(X.v, N, I, W.v, O, null), accumTol(dtype, I, b), `linear bias=${none}`);
        }
        expectClose(f64(nc.linear(X.t, W.t)), ref.refLinear(X.v, N, I, W.v, O, null), accumTol(dtype, I, b), 'linear without bias arg');

        const e = ref.refLinearBackward(DY.v, X.v, W.v, N, I, O);
        for (const opts of [undefined, { bias: true }]) {
          const g = nc.linearBackward(DY.t, X.t, W.t, opts);
          expect(g.dx.shape).toEqual([N, I]);
          expect(g.dw.shape).toEqual([O, I]);
          expect(g.db).not.toBeNull();
          expect(g.db!.shape).toEqual([O]);
          expectClose(f64(g.dx), e.dx, accumTol(dtype, O, b), 'dx');
          expectClose(f64(g.dw), e.dw, accumTol(dtype, N, b), 'dw');
          expectClose(f64(g.db!), e.db, accumTol(dtype, N, b), 'db');
        }
        const g2 = nc.linearBackward(DY.t, X.t, W.t, { bias: false });
        expect(g2.db).toBeNull();
        expectClose(f64(g2.dx), e.dx, accumTol(dtype, O, b), 'dx (no bias)');
        expectClose(f64(g2.dw), e.dw, accumTol(dtype, N, b), 'dw (no bias)');

        expectEqualArrays(f64(X.t), X.v, 'x unchanged');
        expectEqualArrays(f64(W.t), W.v, 'w unchanged');
        expectEqualArrays(f64(DY.t), DY.v, 'dy unchanged');
      });
    });
  }
});
