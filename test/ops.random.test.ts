// randomUniform / randomNormal against a TypeScript Philox4x32-10 that follows the stream
// layout documented in native/core/random.h (note [random numbers]). Every backend and thread
// count must produce these numbers.
//
// Tolerances: [0, 1) uniforms are exact (24- or 53-bit fractions are representable). Scaled
// uniforms low + (high − low)·u may be computed in double then rounded, or in float32:
// float32 rtol 2.4e-7 (2 ulp), float64 1e-15. Normals use log/cos in double, whose last-ulp
// results differ between libms (and JS's Math): float64 atol/rtol 1e-13, float32 one ulp of
// rounding after that (rtol 2.4e-7, atol 1e-7).
import * as nc from '../lib';
import * as ref from './reference';
import { describeEachBackend, expectClose, expectEqualArrays, f64, Tol } from './helpers';

// 2^40 + 3: the Philox block counter then needs its high 32-bit word
const offsets = [0, 1, 3, 5, 1000003, 2 ** 40 + 3];
const seeds = [0, 1, 42, 2 ** 32 + 7, Number.MAX_SAFE_INTEGER];

describeEachBackend('random vs Philox reference', (b) => {
  for (const dtype of b.dtypes) {
    const nTol: Tol = dtype === 'float32' ? { rtol: 2.4e-7, atol: 1e-7 } : { rtol: 1e-13, atol: 1e-13 };
    const sTol: Tol = dtype === 'float32' ? { rtol: 2.4e-7, atol: 1e-7 } : { rtol: 1e-15, atol: 1e-15 };
    describe(dtype, () => {
      test.each(seeds)('uniform [0,1) is exact, seed %p, several offsets', (seed) => {
        for (const offset of offsets) {
          const n = 11; // not a multiple of the 4 (f32) or 2 (f64) values per Philox block
          const t = nc.randomUniform([n], { seed, offset, dtype, device: b.device });
          expect(t.dtype).toBe(dtype);
          expect(t.shape).toEqual([n]);
          const e = Float64Array.from({ length: n }, (_, i) => ref.refUniformUnit(dtype, seed, offset + i));
          expectEqualArrays(f64(t), e, `uniform seed ${seed} offset ${offset}`);
          t.dispose();
        }
      });

      test.each(seeds)('normal matches Box-Muller of the documented uniforms, seed %p', (seed) => {
        for (const offset of offsets) {
          const n = 9;
          const t = nc.randomNormal([n], { seed, offset, dtype, device: b.device });
          const e = Float64Array.from({ length: n }, (_, i) => ref.refNormalUnit(dtype, seed, offset + i));
          expectClose(f64(t), e, nTol, `normal seed ${seed} offset ${offset}`);
          t.dispose();
        }
      });

      test('low/high and mean/std are an affine map of the unit stream', () => {
        const n = 37;
        const u = Float64Array.from({ length: n }, (_, i) => ref.refUniformUnit(dtype, 9, 2 + i));
        const t = nc.randomUniform([n], { seed: 9, offset: 2, dtype, device: b.device, low: -3, high: 5 });
        expectClose(f64(t), u.map((v) => -3 + 8 * v), sTol, 'uniform low/high');
        const z = Float64Array.from({ length: n }, (_, i) => ref.refNormalUnit(dtype, 9, 2 + i));
        const t2 = nc.randomNormal([n], { seed: 9, offset: 2, dtype, device: b.device, mean: 1.5, std: 0.25 });
        expectClose(f64(t2), z.map((v) => 1.5 + 0.25 * v), { rtol: nTol.rtol, atol: nTol.atol * 2 }, 'normal mean/std');
      });

      test('multi-dimensional shapes fill in row-major order', () => {
        const t = nc.randomUniform([2, 3, 5], { seed: 77, dtype, device: b.device });
        expect(t.shape).toEqual([2, 3, 5]);
        const e = Float64Array.from({ length: 30 }, (_, i) => ref.refUniformUnit(dtype, 77, i));
        expectEqualArrays(f64(t), e);
      });
    });
  }
});
