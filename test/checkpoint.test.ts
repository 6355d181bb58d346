// Checkpoints: round trip of every field, rejection of truncated / corrupted / foreign / future
// files with an Error naming the file, and atomic writes that leave the previous checkpoint intact
// when a write fails or is abandoned.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import {
  CHECKPOINT_MAGIC,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  pendingCheckpointFiles,
  removePendingCheckpointFiles,
  saveCheckpoint,
  type Checkpoint,
  type CheckpointFs,
} from '../lib/checkpoint';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'newton-ckpt-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function sample(dtype: 'float32' | 'float64' = 'float32', seed = 1, batch = 3): Checkpoint {
  const P = 1000 + seed;
  const A = dtype === 'float64' ? Float64Array : Float32Array;
  const parameters = new A(P);
  const velocity = new A(P);
  for (let i = 0; i < P; i++) {
    parameters[i] = Math.sin(i * 0.37 + seed) * 1e-2;
    velocity[i] = Math.cos(i * 0.11 - seed) * 1e-5;
  }
  parameters[7] = -0; // signed zero survives
  const permutation = new Int32Array(batch > 0 ? 250 : 0);
  for (let i = 0; i < permutation.length; i++) permutation[i] = (i * 97 + seed) % 250;
  return {
    model: { name: 'cnn3', inputShape: [1, 28, 28], classes: 10, dtype, numParameters: P, numBuffers: 6 },
    options: { model: 'cnn3', data: 'fashion-mnist-small', lr: 0.003, C: 0.01, shape: null, nested: { a: [1, 'x', true] } },
    optimizer: 'sgd',
    state: {
      version: 1,
      epoch: 2,
      batch,
      permutation,
      rngState: [0xdeadbeef, 1, 0xffffffff, 12345],
      optimizer: { iteration: 77, velocity },
      parameters,
      seed: 42,
      batchSize: 128,
      trainSize: 250,
      elapsed: 12.345678901234567,
      epochLoss: { sum: 0.1 + 0.2, batches: 3 },
      buffers: A.from([0.5, -0.25, 0, 1, 2, 3]), // batch-norm running means and variances
    },
  };
}

function bytes(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function expectSameCheckpoint(got: Checkpoint, want: Checkpoint): void {
  expect(got.model).toEqual(want.model);
  expect(got.options).toEqual(want.options);
  expect(got.optimizer).toBe(want.optimizer ?? 'sgd');
  const g = got.state;
  const w = want.state;
  expect(g.parameters.constructor).toBe(w.parameters.constructor);
  expect(bytes(g.parameters).equals(bytes(w.parameters))).toBe(true);
  expect(g.optimizer.velocity.constructor).toBe(w.optimizer.velocity.constructor);
  expect(bytes(g.optimizer.velocity).equals(bytes(w.optimizer.velocity))).toBe(true);
  expect(g.permutation).toBeInstanceOf(Int32Array);
  expect(Array.from(g.permutation)).toEqual(Array.from(w.permutation));
  expect(g.optimizer.iteration).toBe(w.optimizer.iteration);
  expect(g.rngState).toEqual(w.rngState);
  for (const k of ['version', 'epoch', 'batch', 'seed', 'batchSize', 'trainSize', 'elapsed'] as const) expect(g[k]).toBe(w[k]);
  expect(Object.is(g.epochLoss.sum, w.epochLoss.sum)).toBe(true);
  expect(g.epochLoss.batches).toBe(w.epochLoss.batches);
  expect(g.buffers!.constructor).toBe(w.buffers!.constructor);
  expect(bytes(g.buffers!).equals(bytes(w.buffers!))).toBe(true);
}

describe('checkpoint round trip', () => {
  test.each(['float32', 'float64'] as const)('every field survives save + load (%s)', async (dtype) => {
    const c = sample(dtype);
    const file = path.join(dir, 'run.ckpt');
    await saveCheckpoint(file, c, { library: '9.9.9' });
    const back = await loadCheckpoint(file);
    expectSameCheckpoint(back, c);
    expect(back.library).toBe('9.9.9');
    expect(typeof back.createdAt).toBe('string');
    expect(fs.readdirSync(dir)).toEqual(['run.ckpt']); // no temporary file left behind
  });

  test('an epoch-boundary state (empty permutation) and non-finite loss sums round-trip', () => {
    const c = sample('float32', 2, 0);
    c.state.epochLoss = { sum: NaN, batches: 0 };
    c.state.elapsed = Infinity;
    const back = decodeCheckpoint(encodeCheckpoint(c));
    expect(back.state.permutation.length).toBe(0);
    expect(back.state.epochLoss.sum).toBeNaN();
    expect(back.state.elapsed).toBe(Infinity);
  });

  test('layout: magic, version, 8-byte aligned size, SHA-256 over the rest', () => {
    const buf = encodeCheckpoint(sample());
    expect(buf.subarray(0, 8).toString('latin1')).toBe(CHECKPOINT_MAGIC);
    expect(buf.readUInt32LE(8)).toBe(2);
    expect(Number(buf.readBigUInt64LE(48))).toBe(buf.length);
    expect(buf.length % 8).toBe(0);
    const header = JSON.parse(buf.subarray(64, 64 + buf.readUInt32LE(56)).toString('utf8'));
    expect(header.sections.map((s: { name: string }) => s.name)).toEqual(['parameters', 'velocity', 'permutation', 'buffers']);
    for (const s of header.sections) expect(s.offset % 8).toBe(0);
  });

  test('a version-1 checkpoint (from before batch norm: no buffers) still loads, without buffers', () => {
    const c = sample('float32');
    delete c.state.buffers;
    const buf = encodeCheckpoint(c);
    buf.writeUInt32LE(1, 8); // the version is outside the checksummed range
    const back = decodeCheckpoint(buf);
    expect(back.state.buffers).toBeUndefined();
    expect(back.model.numBuffers).toBe(0);
    expect(bytes(back.state.parameters).equals(bytes(c.state.parameters))).toBe(true);
  });

  test('an existing checkpoint is replaced atomically by a new one', async () => {
    const file = path.join(dir, 'run.ckpt');
    await saveCheckpoint(file, sample('float32', 1));
    await saveCheckpoint(file, sample('float32', 2));
    expectSameCheckpoint(await loadCheckpoint(file), sample('float32', 2));
    expect(fs.readdirSync(dir)).toEqual(['run.ckpt']);
  });
});

describe('corrupted checkpoints are rejected with an Error naming the file', () => {
  let file: string;
  let good: Buffer;
  beforeEach(async () => {
    file = path.join(dir, 'run.ckpt');
    await saveCheckpoint(file, sample());
    good = fs.readFileSync(file);
  });

  async function expectRejected(buf: Buffer, re: RegExp): Promise<void> {
    const bad = path.join(dir, 'bad.ckpt');
    fs.writeFileSync(bad, buf);
    const err = await loadCheckpoint(bad).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(bad);
    expect((err as Error).message).toMatch(re);
    // the good checkpoint next to it is untouched
    expect(fs.readFileSync(file).equals(good)).toBe(true);
  }

  test.each([
    ['to half', 0.5],
    ['by one byte', -1],
    ['to the preamble', 40],
    ['to nothing', 0],
  ])('truncated %s', async (_name, cut) => {
    const n = cut === -1 ? good.length - 1 : cut === 0.5 ? Math.floor(good.length / 2) : cut;
    await expectRejected(good.subarray(0, n), /truncated/);
  });

  test('trailing bytes', async () => {
    await expectRejected(Buffer.concat([good, Buffer.from([0])]), /trailing data/);
  });

  test.each([
    ['in θ', (b: Buffer) => b.length - 5000],
    ['in the header', () => 80],
    ['in the size field', () => 49],
    ['at the last byte', (b: Buffer) => b.length - 1],
  ])('a flipped byte %s fails the checksum', async (_name, where) => {
    const b = Buffer.from(good);
    const at = where(b);
    b[at] ^= 0x10;
    await expectRejected(b, at === 49 ? /truncated|trailing|checksum/ : /checksum mismatch.*corrupted/);
  });

  test('a flipped byte in the checksum itself', async () => {
    const b = Buffer.from(good);
    b[20] ^= 1;
    await expectRejected(b, /checksum mismatch/);
  });

  test('wrong magic', async () => {
    const b = Buffer.from(good);
    b.write('PK\u0003\u0004', 0, 'latin1');
    await expectRejected(b, /not a newton-cnn checkpoint \(magic/);
  });

  test('wrong version', async () => {
    const b = Buffer.from(good);
    b.writeUInt32LE(3, 8);
    await expectRejected(b, /unsupported checkpoint version 3 \(this newton-cnn reads versions 1 and 2; a newer version needs a newer newton-cnn\)/);
  });

  test('a missing file', async () => {
    await expect(loadCheckpoint(path.join(dir, 'none.ckpt'))).rejects.toThrow(/loadCheckpoint: .*none\.ckpt: no such file/);
  });

  test('decodeCheckpoint names its source', () => {
    expect(() => decodeCheckpoint(Buffer.from('hello'), 'x.ckpt')).toThrow(/loadCheckpoint: x\.ckpt: truncated/);
  });
});

describe('failed writes leave the previous checkpoint intact', () => {
  const real: CheckpointFs = {
    open: (f, flags, mode) => fs.promises.open(f, flags, mode),
    rename: (a, b) => fs.promises.rename(a, b),
    unlink: (f) => fs.promises.unlink(f),
  };
  let file: string;
  let before: Buffer;
  beforeEach(async () => {
    file = path.join(dir, 'run.ckpt');
    await saveCheckpoint(file, sample('float32', 1));
    before = fs.readFileSync(file);
  });

  async function expectIntact(): Promise<void> {
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    expectSameCheckpoint(await loadCheckpoint(file), sample('float32', 1));
    expect(fs.readdirSync(dir)).toEqual(['run.ckpt']);
    expect(pendingCheckpointFiles()).toEqual([]);
  }

  test('the rename fails', async () => {
    const io: CheckpointFs = { ...real, rename: () => Promise.reject(Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' })) };
    await expect(saveCheckpoint(file, sample('float32', 2), { fs: io })).rejects.toThrow(/saveCheckpoint: .*run\.ckpt: cannot write the checkpoint \(EIO/);
    await expectIntact();
  });

  test('a write fails half way (disk full)', async () => {
    const io: CheckpointFs = {
      ...real,
      open: async (f, flags, mode) => {
        const h = await fs.promises.open(f, flags, mode);
        let calls = 0;
        return new Proxy(h, {
          get(target, prop, receiver) {
            if (prop === 'write') {
              return async (buf: Buffer, off: number, len: number, pos: number) => {
                if (calls++ > 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
                return target.write(buf, off, Math.min(len, 100), pos);
              };
            }
            const v = Reflect.get(target, prop, receiver) as unknown;
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
          },
        });
      },
    };
    await expect(saveCheckpoint(file, sample('float32', 2), { fs: io })).rejects.toThrow(/ENOSPC/);
    await expectIntact();
  });

  test('the directory does not exist', async () => {
    await expect(saveCheckpoint(path.join(dir, 'no', 'such', 'dir', 'x.ckpt'), sample())).rejects.toThrow(/saveCheckpoint: .*x\.ckpt: cannot write/);
    await expectIntact();
  });

  test('an abandoned write (second Ctrl-C) leaves no partial file once cleaned up', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let opened = false;
    const io: CheckpointFs = {
      ...real,
      open: async (f, flags, mode) => {
        const h = await fs.promises.open(f, flags, mode);
        opened = true;
        await gate; // hangs as if the process were killed mid-write
        return h;
      },
    };
    const saving = saveCheckpoint(file, sample('float32', 2), { fs: io }).catch((e: unknown) => e);
    while (!opened) await new Promise((r) => setImmediate(r));
    expect(pendingCheckpointFiles()).toHaveLength(1);
    expect(fs.readdirSync(dir)).toHaveLength(2); // run.ckpt + the temporary file
    removePendingCheckpointFiles(); // what the second Ctrl-C does before exiting
    expect(fs.readdirSync(dir)).toEqual(['run.ckpt']);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    release();
    const err = await saving; // the write then fails (its temp file is gone) or lands whole
    if (err instanceof Error) await expectIntact();
    else expectSameCheckpoint(await loadCheckpoint(file), sample('float32', 2));
  });
});
