// Runner (a) of the op cases (test/cases/case.ts): every case on every backend present, in
// every dtype the backend runs, against the float64 reference, with the per-output
// tolerances of note [case tolerances].
import { families } from './cases';
import { checkAgainstReference } from './cases/harness';
import { describeEachBackend } from './helpers';

describeEachBackend('op reference', (b) => {
  for (const family of families) {
    describe(family.name, () => {
      for (const c of family.cases) {
        const dtypes = (c.dtypes ?? ['float32', 'float64']).filter((d) => b.dtypes.includes(d));
        for (const dtype of dtypes) {
          test(`${c.op}: ${c.name} [${dtype}]`, () => checkAgainstReference(c, dtype, b.device));
        }
      }
    });
  }
});
