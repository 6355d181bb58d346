// Runner (b) of the op cases (test/cases/case.ts): every case that runs in float32, on the
// CPU and on the first CUDA device from the same inputs, compared with the case's checks
// (note [case tolerances]): exact ops bit for bit, accumulating ops within their bounds.
// Without a GPU every case is registered as a skipped test that says why
// (test/helpers.ts, cudaTest); NEWTON_REQUIRE_CUDA=1 turns those into failures.
import { families } from './cases';
import { checkParity } from './cases/harness';
import { cudaTest, TF32 } from './helpers';

for (const family of families) {
  describe(`op parity: ${family.name}`, () => {
    for (const c of family.cases) {
      if (!(c.dtypes ?? ['float32']).includes('float32')) continue;
      cudaTest(`${c.op}: ${c.name}`, (device) => checkParity(c, device, TF32));
    }
  });
}
