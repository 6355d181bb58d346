// The op surface against the op declarations (native/core/ops/*.h, read back through the
// addon's opSchemas()): the generated TypeScript declarations are current, every op is
// exported by the package, every backend's kernel table is what the tests rely on, and the
// case tables (test/cases/) give every op a reference case, a parity case and a bench line,
// and every derivative pass a finite-difference check.
import * as nc from '../lib';
import { native, type NativeOpSchema } from '../lib/native';
import { allCases } from './cases';
import * as fs from 'fs';
import * as path from 'path';

// The generator is plain CommonJS (it runs before the TypeScript is compiled).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { render } = require('../scripts/gen-native-ops.js') as { render: (schemas: NativeOpSchema[]) => string };

const schemas = native().opSchemas();
const names = schemas.map((s) => s.name);

test('opSchemas() describes every op once', () => {
  expect(schemas.length).toBeGreaterThan(30);
  expect(new Set(names).size).toBe(names.length);
  for (const s of schemas) {
    expect(s.name).toMatch(/^[a-z][A-Za-z0-9]*$/);
    expect(s.doc.length).toBeGreaterThan(10);
    expect(['forward', 'vjp', 'jvp', 'fused', 'utility']).toContain(s.pass);
    if (s.pass === 'vjp' || s.pass === 'jvp' || s.pass === 'fused') {
      // the op it belongs to exists, and the input it differentiates is one of that op's
      const of = schemas.find((o) => o.name === s.of);
      expect({ op: s.name, of: of?.name }).toEqual({ op: s.name, of: s.of });
      if (s.pass !== 'fused' && s.wrt !== 'all') expect(of!.args.map((a) => a.name)).toContain(s.wrt);
    }
  }
});

test('lib/native-ops.ts is what scripts/gen-native-ops.js writes from the declarations', () => {
  const current = fs.readFileSync(path.join(__dirname, '..', 'lib', 'native-ops.ts'), 'utf8');
  // On failure: run `node scripts/gen-native-ops.js` (every `npm run build:native` does).
  expect(current).toBe(render(schemas));
});

test('every op is a function of the package, under its declared name', () => {
  const exported = nc as unknown as Record<string, unknown>;
  expect(names.filter((op) => typeof exported[op] !== 'function')).toEqual([]);
});

test("the CPU's kernel table runs every op in float32 and float64", () => {
  const table = nc.supportedOps('cpu');
  expect(Object.keys(table).sort()).toEqual([...names].sort());
  for (const op of names) {
    expect({ op, dtypes: table[op].filter((d) => d !== 'int32') }).toEqual({ op, dtypes: ['float32', 'float64'] });
  }
  // int32 index tensors: only made, filled, copied and cast
  expect(names.filter((op) => table[op].includes('int32')).sort()).toEqual(['cast', 'copy', 'fill']);
});

test('a CUDA kernel table, when a device exists, runs every op in float32 and nothing in float64', () => {
  const cuda = nc.devices().find((d) => d.kind === 'cuda' && d.available);
  if (!cuda) {
    // no device: nothing to read (the CUDA parity runner reports its cases as skipped)
    expect(nc.devices().some((d) => d.kind === 'cuda' && !d.available)).toBe(true);
    return;
  }
  const table = nc.supportedOps(cuda.name);
  for (const op of names) expect({ op, dtypes: table[op] }).toEqual({ op, dtypes: ['fill', 'copy', 'cast'].includes(op) ? ['float32', 'int32'] : ['float32'] });
});

describe('the case tables cover the declarations', () => {
  test('every op has a case: the reference runner and the parity runner run it', () => {
    const withCase = new Set<string>(allCases.map((c) => c.op));
    expect(names.filter((op) => !withCase.has(op))).toEqual([]);
    expect(allCases.filter((c) => !names.includes(c.op)).map((c) => c.op)).toEqual([]);
    // and a float32 case, for the parity runner
    const f32 = new Set<string>(allCases.filter((c) => (c.dtypes ?? ['float32']).includes('float32')).map((c) => c.op));
    expect(names.filter((op) => !f32.has(op))).toEqual([]);
  });

  test('every vjp, jvp and fused pass has a finite-difference check', () => {
    const checked = new Set<string>(allCases.flatMap((c) => c.grad?.ops ?? []));
    const passes = schemas.filter((s) => s.pass === 'vjp' || s.pass === 'jvp' || s.pass === 'fused').map((s) => s.name);
    expect(passes.filter((op) => !checked.has(op))).toEqual([]);
    expect([...checked].filter((op) => !names.includes(op))).toEqual([]);
  });

  test('every op has a bench line', () => {
    const benched = new Set<string>(allCases.filter((c) => c.bench !== undefined).map((c) => c.op));
    expect(names.filter((op) => !benched.has(op))).toEqual([]);
  });

  test('case titles are unique per op', () => {
    const titles = allCases.map((c) => `${c.op}: ${c.name}`);
    expect(titles.filter((t, i) => titles.indexOf(t) !== i)).toEqual([]);
  });
});
