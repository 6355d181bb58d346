// The native image decoding and ImageNet transforms under the image-folder loader
// (native/core/image_codec.h, image_transform.h, image_batch.h; notes [image decoding],
// [image transforms], [image batches]):
//   - decodeImage against sharp's decode of the same files: PNG (gray, RGB, RGBA, palette,
//     16-bit, interlaced) exactly; JPEG exactly too (sharp's libvips decodes with mozjpeg, a
//     libjpeg-turbo fork with the same ISLOW IDCT and fancy upsampling), luminance of colour
//     images by the documented rule; damaged data, garbage and absurd sizes are errors;
//   - imageCropDraws against a TypeScript reference of the draws (Philox, the 10 attempts, the
//     fallback) and of the center-crop geometry;
//   - imageBatch for each transform against a float64 reference of the resize (max |Δ| ≤ 1e-3
//     on 0..255 values), flips, normalisation, one-hot targets and labels;
//   - a batch with unreadable images: reported by position and file, the rows after them moved
//     up; the same bytes for 1 and 2 threads; sync and async agree; every bad option refused by
//     name before anything is written.
// The images are written with sharp (an optional dependency): without it those cases skip and
// say so. A build without a decoder checks the error that names the package instead.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { getNumThreads, setNumThreads } from '../lib';
import { native, type NativeImageBatchOptions } from '../lib/native';
import { philox } from './philox';
import { loadSharp, type RawInfo, type SharpImage } from './sharp';

// --- sharp, when installed ---------------------------------------------------------------------
const sharp = loadSharp();
const codecs = native().imageCodecs();
const haveCodecs = codecs.jpeg.library !== null && codecs.png.library !== null;
const NO_SHARP = ' [skipped: sharp (an optional dependency) is not installed, so no test image can be written]';
const NO_CODECS = ` [skipped: this build has no ${[codecs.jpeg.library === null ? 'JPEG' : '', codecs.png.library === null ? 'PNG' : ''].filter(Boolean).join(' or ')} decoder (see imageCodecs())]`;
const skipWhy = sharp === null ? NO_SHARP : !haveCodecs ? NO_CODECS : '';
type Body = () => Promise<unknown>;
const withImages = Object.assign((title: string, fn: Body) => (skipWhy ? test.skip(title + skipWhy, fn) : test(title, fn)), {
  each: <T extends unknown[]>(table: T[]) => (title: string, fn: (...args: T) => Promise<unknown>) =>
    skipWhy ? test.skip.each(table)(title + skipWhy, fn) : test.each(table)(title, fn),
});

// --- fixtures ----------------------------------------------------------------------------------
let dir = '';
let seedState = 7;
const rand = (): number => ((seedState = (Math.imul(seedState, 1103515245) + 12345) >>> 0) >>> 8) / 16777216;

/** A smooth picture with some noise: w×h×c bytes (JPEG-friendly, and it has structure to resize). */
function picture(w: number, h: number, c: number): Buffer {
  const px = Buffer.alloc(w * h * c);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < c; k++) {
        const v = 128 + 70 * Math.sin((x + 3 * k) / 5) * Math.cos((y - 2 * k) / 7) + 30 * (rand() - 0.5);
        px[(y * w + x) * c + k] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return px;
}
const rawOf = (w: number, h: number, channels: number) => ({ raw: { width: w, height: h, channels } });
function write(name: string, bytes: Buffer | Uint8Array): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}
/** CRC-32 (PNG chunks). */
function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

interface Fixtures {
  rgb: Buffer; // 37×23 RGB pixels
  rgbPng: Buffer;
  rgbJpeg: Buffer; // 4:2:0, quality 90
  big: Buffer; // 300×200 RGB pixels
  bigJpeg: Buffer;
  bigPng: Buffer;
  tallJpeg: Buffer; // 200×300
}
let fx: Fixtures;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'newton-images-'));
  if (!sharp) return;
  const rgb = picture(37, 23, 3), big = picture(300, 200, 3), tall = picture(200, 300, 3);
  fx = {
    rgb,
    rgbPng: await sharp(rgb, rawOf(37, 23, 3)).png().toBuffer(),
    rgbJpeg: await sharp(rgb, rawOf(37, 23, 3)).jpeg({ quality: 90 }).toBuffer(),
    big,
    bigJpeg: await sharp(big, rawOf(300, 200, 3)).jpeg({ quality: 85 }).toBuffer(),
    bigPng: await sharp(big, rawOf(300, 200, 3)).png().toBuffer(),
    tallJpeg: await sharp(tall, rawOf(200, 300, 3)).jpeg({ quality: 85 }).toBuffer(),
  };
});
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function sharpRaw(bytes: Buffer, f: (s: SharpImage) => SharpImage = (s) => s): Promise<{ data: Buffer; info: RawInfo }> {
  return f(sharp!(bytes)).raw().toBuffer({ resolveWithObject: true });
}
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
/** libjpeg's fixed-point luminance (note [image decoding]). */
function luma(rgb: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(rgb.length / 3);
  for (let i = 0; i < out.length; i++) out[i] = (19595 * rgb[3 * i] + 38470 * rgb[3 * i + 1] + 7471 * rgb[3 * i + 2] + 32768) >>> 16;
  return out;
}

// --- decoding ----------------------------------------------------------------------------------
describe('imageCodecs', () => {
  test('names each library and its version, or says which package is missing', () => {
    for (const [codec, name, pkg] of [
      // (the prebuilt addon opens libturbojpeg.so.0 at run time and knows only its major version)
      [codecs.jpeg, /^libjpeg-turbo (\d+\.\d+\.\d+ \(TurboJPEG\)|\d\.x \(TurboJPEG, libturbojpeg\.so\.0\))$/, /libturbojpeg0/],
      [codecs.png, /^libpng \d+\.\d+\.\d+$/, /libpng-dev/],
    ] as const) {
      if (codec.library !== null) expect(codec.library).toMatch(name);
      else expect(codec.reason).toMatch(pkg);
    }
  });
});

describe('decodeImage', () => {
  withImages('PNG: equal to sharp’s decode, byte for byte, for gray, RGB, RGBA, palette, 16-bit and interlaced files', async () => {
    const s = sharp!;
    const gray = picture(37, 23, 1), rgba = picture(37, 23, 4), ga = picture(37, 23, 2);
    const cases: [string, Buffer, (b: Buffer, ch: 1 | 3) => Promise<Buffer>][] = [
      // [what, file, sharp's decode to `ch` channels]
      ['RGB', fx.rgbPng, async (b, ch) => (ch === 3 ? (await sharpRaw(b)).data : Buffer.from(luma((await sharpRaw(b)).data)))],
      ['gray', await s(gray, rawOf(37, 23, 1)).toColourspace('b-w').png().toBuffer(), async (b) => (await sharpRaw(b, (x) => x.extractChannel(0))).data],
      ['gray + alpha', await s(ga, rawOf(37, 23, 2)).toColourspace('b-w').png().toBuffer(), async (b) => (await sharpRaw(b, (x) => x.extractChannel(0))).data],
      ['RGBA', await s(rgba, rawOf(37, 23, 4)).png().toBuffer(), async (b) => (await sharpRaw(b, (x) => x.removeAlpha())).data],
      ['palette', await s(fx.rgb, rawOf(37, 23, 3)).png({ palette: true }).toBuffer(), async (b) => (await sharpRaw(b)).data],
      ['palette + tRNS', await s(rgba, rawOf(37, 23, 4)).png({ palette: true }).toBuffer(), async (b) => (await sharpRaw(b, (x) => x.removeAlpha())).data],
      ['16-bit RGB', await s(fx.rgb, rawOf(37, 23, 3)).toColourspace('rgb16').png().toBuffer(), async (b) => (await sharpRaw(b)).data],
      ['16-bit gray', await s(gray, rawOf(37, 23, 1)).toColourspace('grey16').png().toBuffer(), async (b) => (await sharpRaw(b, (x) => x.extractChannel(0))).data],
      ['interlaced', await s(fx.rgb, rawOf(37, 23, 3)).png({ progressive: true }).toBuffer(), async (b) => (await sharpRaw(b)).data],
    ];
    for (const [what, bytes, reference] of cases) {
      const colour = (await sharpRaw(bytes)).info.channels >= 3 && !/gray/.test(what);
      for (const ch of [1, 3] as const) {
        const d = native().decodeImage(bytes, ch);
        expect([what, d.width, d.height, d.channels, d.data.length]).toEqual([what, 37, 23, ch, 37 * 23 * ch]);
        let expected: Uint8Array;
        if (colour) expected = ch === 3 ? await reference(bytes, 3) : luma(await reference(bytes, 3));
        else {
          const g = await reference(bytes, 1);
          expected = ch === 1 ? g : Uint8Array.from({ length: g.length * 3 }, (_, i) => g[Math.floor(i / 3)]);
        }
        expect([what, ch, maxDiff(d.data, expected)]).toEqual([what, ch, 0]);
      }
    }
    // 16-bit samples keep their high byte: sharp wrote 257·v, so the original bytes come back.
    expect(Buffer.from(native().decodeImage(cases[6][1], 3).data).equals(fx.rgb)).toBe(true);
    // A lossless PNG gives back its pixels.
    expect(Buffer.from(native().decodeImage(fx.rgbPng, 3).data).equals(fx.rgb)).toBe(true);
  });

  withImages.each([
    ['baseline 4:2:0', { quality: 90 }],
    ['4:4:4', { quality: 75, chromaSubsampling: '4:4:4' }],
    ['progressive', { quality: 80, progressive: true }],
  ] as [string, { quality: number }][])('JPEG %s: equal to sharp’s decode, byte for byte (both libjpeg-turbo, ISLOW IDCT)', async (_what, options) => {
    for (const [w, h, px] of [[37, 23, fx.rgb], [300, 200, fx.big]] as const) {
      const bytes = await sharp!(px, rawOf(w, h, 3)).jpeg(options).toBuffer();
      const d = native().decodeImage(bytes, 3);
      expect([d.width, d.height, d.channels]).toEqual([w, h, 3]);
      const ref = (await sharpRaw(bytes)).data;
      expect(maxDiff(d.data, ref)).toBe(0);
      // One channel is the decoder's Y plane: the luminance of the decoded RGB up to its rounding.
      const g = native().decodeImage(bytes, 1);
      expect(g.channels).toBe(1);
      expect(maxDiff(g.data, luma(ref))).toBeLessThanOrEqual(2);
    }
  });

  withImages('a grayscale JPEG: one channel equal to sharp’s, three channels repeat it', async () => {
    const gray = picture(37, 23, 1);
    const bytes = await sharp!(gray, rawOf(37, 23, 1)).toColourspace('b-w').jpeg({ quality: 90 }).toBuffer();
    const ref = (await sharpRaw(bytes, (x) => x.extractChannel(0))).data;
    const g = native().decodeImage(bytes, 1);
    expect(maxDiff(g.data, ref)).toBe(0);
    const c = native().decodeImage(bytes, 3);
    expect(maxDiff(c.data, Uint8Array.from({ length: ref.length * 3 }, (_, i) => ref[Math.floor(i / 3)]))).toBe(0);
  });

  withImages('a CMYK JPEG is converted to RGB (R = C·K/255 of the inverted CMYK), not refused', async () => {
    // Four flat colour blocks; sharp converts through an ICC profile, the decoder without one,
    // so only the colours' character is compared.
    const w = 32, h = 8, px = Buffer.alloc(w * h * 3);
    const colours = [[230, 20, 20], [20, 200, 30], [20, 30, 220], [240, 240, 240]];
    for (let i = 0; i < w * h; i++) px.set(colours[Math.floor((i % w) / 8)], 3 * i);
    const bytes = await sharp!(px, rawOf(w, h, 3)).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
    const d = native().decodeImage(bytes, 3);
    expect([d.width, d.height, d.channels]).toEqual([w, h, 3]);
    const at = (x: number) => Array.from(d.data.subarray(3 * (3 * w + x), 3 * (3 * w + x) + 3));
    const [red, green, blue, white] = [at(4), at(12), at(20), at(28)];
    expect(red[0]).toBeGreaterThan(150);
    expect(Math.max(red[1], red[2])).toBeLessThan(100);
    expect(green[1]).toBeGreaterThan(Math.max(green[0], green[2]) + 60);
    expect(blue[2]).toBeGreaterThan(Math.max(blue[0], blue[1]) + 60);
    expect(Math.min(...white)).toBeGreaterThan(200);
    expect(native().decodeImage(bytes, 1).data[3 * w + 28]).toBeGreaterThan(200);
  });

  withImages('padding between the last scan and the EOI marker (a warning that leaves the image whole) decodes as the clean file', async () => {
    const jpeg = Buffer.from(fx.bigJpeg);
    const eoi = jpeg.length - 2;
    const padded = Buffer.concat([jpeg.subarray(0, eoi), Buffer.alloc(240), jpeg.subarray(eoi)]);
    expect(maxDiff(native().decodeImage(padded, 3).data, native().decodeImage(jpeg, 3).data)).toBe(0);
  });

  withImages('damaged data is an Error naming what is wrong, never a partial image', async () => {
    const jpeg = fx.bigJpeg, png = fx.bigPng;
    const bad: [string, Uint8Array, RegExp][] = [
      ['JPEG cut in half', jpeg.subarray(0, jpeg.length >> 1), /decodeImage: truncated or corrupt JPEG data: Premature end of JPEG file/],
      ['JPEG without its EOI marker', jpeg.subarray(0, jpeg.length - 2), /decodeImage: truncated or corrupt JPEG data/],
      ['JPEG header only', jpeg.subarray(0, 40), /decodeImage: truncated or corrupt JPEG data: no frame header before the data ends/],
      ['JPEG marker only', jpeg.subarray(0, 3), /decodeImage: truncated or corrupt JPEG data: no frame header/],
      ['PNG cut in its image data', png.subarray(0, png.length >> 1), /decodeImage: corrupt PNG: unexpected end of data/],
      ['PNG without IEND', png.subarray(0, png.length - 12), /decodeImage: corrupt PNG: unexpected end of data/],
      ['PNG signature only', png.subarray(0, 8), /decodeImage: corrupt PNG/],
      ['garbage', Buffer.from('<html>not found</html>'), /decodeImage: not a JPEG or PNG image \(22 bytes starting 3c 68 74 6d 6c 3e 6e 6f\)/],
      ['no bytes', new Uint8Array(0), /decodeImage: no image data \(0 bytes\)/],
    ];
    // A 12-bit JPEG (the precision byte of SOF0): not decodable by the 8-bit library.
    const twelve = Buffer.from(jpeg);
    twelve[twelve.indexOf(Buffer.from([0xff, 0xc0])) + 4] = 12;
    bad.push(['12-bit JPEG', twelve, /decodeImage: corrupt JPEG header: Unsupported JPEG data precision 12/]);
    // A flipped byte inside IDAT: zlib or libpng's CRC check catches it.
    const flipped = Buffer.from(png);
    const idat = flipped.indexOf('IDAT');
    flipped[idat + 20] ^= 0xff;
    bad.push(['PNG with a damaged IDAT', flipped, /decodeImage: corrupt PNG: IDAT: /]);
    for (const [what, bytes, message] of bad) {
      for (const ch of [1, 3] as const) {
        let error: Error | undefined;
        try {
          native().decodeImage(bytes, ch);
        } catch (e) {
          error = e as Error;
        }
        expect([what, error?.constructor.name, error?.message]).toEqual([what, 'Error', expect.stringMatching(message)]);
      }
    }
  });

  withImages('an absurd size is refused from the header, before any allocation', async () => {
    // JPEG: the SOF0 marker's height and width set to 30000×40000.
    const jpeg = Buffer.from(fx.rgbJpeg);
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    jpeg.writeUInt16BE(30000, sof + 5);
    jpeg.writeUInt16BE(40000, sof + 7);
    expect(() => native().decodeImage(jpeg, 3)).toThrow(/decodeImage: JPEG image is 40000×30000 pixels: larger than the decoder accepts \(2\^15 = 32768 pixels a side, 2\^28 in all\)/);
    // PNG: IHDR of 20000×20000 (each side allowed, 4·10^8 pixels in all not), CRC recomputed.
    const png = Buffer.from(fx.rgbPng);
    png.writeUInt32BE(20000, 16);
    png.writeUInt32BE(20000, 20);
    png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
    expect(() => native().decodeImage(png, 1)).toThrow(/decodeImage: PNG image is 20000×20000 pixels: larger than the decoder accepts/);
  });

  test('argument types and channels', () => {
    const d = native();
    // (constructor names, not classes: jest's realm has other TypeError / RangeError objects)
    const thrown = (f: () => unknown): [string, string] => {
      try {
        f();
      } catch (e) {
        return [(e as Error).constructor.name, (e as Error).message];
      }
      return ['', ''];
    };
    expect(thrown(() => d.decodeImage([1, 2] as unknown as Uint8Array, 3))).toEqual(['TypeError', 'decodeImage: bytes must be a Uint8Array, got array']);
    expect(thrown(() => d.decodeImage(new Float32Array(4) as unknown as Uint8Array, 3))).toEqual(['TypeError', 'decodeImage: bytes must be a Uint8Array, got Float32Array']);
    expect(thrown(() => d.decodeImage(new Uint8Array(4), 2 as 1))).toEqual(['RangeError', 'decodeImage: channels must be 1 or 3, got 2']);
    expect(thrown(() => d.decodeImage(new Uint8Array(4), '3' as unknown as 3))).toEqual(['TypeError', 'decodeImage: channels must be a number, got string']);
    // a Buffer is a Uint8Array
    expect(thrown(() => d.decodeImage(Buffer.from('GIF89a'), 3))).toEqual(['Error', 'decodeImage: not a JPEG or PNG image (6 bytes starting 47 49 46 38 39 61)']);
  });

  (haveCodecs ? test.skip : test)('a build without a decoder: the error names the package to install', () => {
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]);
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]);
    if (codecs.jpeg.library === null) expect(() => native().decodeImage(jpeg, 3)).toThrow(/decodeImage: cannot decode a JPEG image: .*install libturbojpeg0-dev/);
    if (codecs.png.library === null) expect(() => native().decodeImage(png, 3)).toThrow(/decodeImage: cannot decode a PNG image: .*install libpng-dev/);
  });
});

// --- reference: the draws and windows of note [image transforms] --------------------------------
const IMAGE_STREAM = 0xd1b54a32d192ed03n;
const below = (w: number, r: number) => Math.floor((w * r) / 4294967296);
const unit = (w: number) => w / 4294967296;
function roundHalfEven(x: number): number {
  const f = Math.floor(x), d = x - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
}
type Window = [top: number, left: number, height: number, width: number, flip: number];
interface RefTransform {
  transform: NativeImageBatchOptions['transform'];
  size: [number, number];
  seed: number;
  epoch: number;
  scale?: [number, number];
  ratio?: [number, number];
  resizeTo?: number;
  flip?: boolean;
}
/** The window of one position as imageCropDraws reports it. */
function refWindow(o: RefTransform, W: number, H: number, position: number): Window {
  const key = BigInt(o.seed) ^ IMAGE_STREAM;
  const block = (lane: number) => philox(key, position >>> 0, o.epoch >>> 0, lane, 0);
  const flip = o.flip && block(10)[0] >>> 31 === 1 ? 1 : 0;
  if (o.transform === 'stretch') return [0, 0, H, W, flip];
  if (o.transform === 'center-crop') {
    const r = o.resizeTo!;
    const [RH, RW] = W <= H ? [Math.floor((r * H) / W), r] : [r, Math.floor((r * W) / H)];
    return [roundHalfEven((RH - o.size[0]) / 2), roundHalfEven((RW - o.size[1]) / 2), o.size[0], o.size[1], flip];
  }
  const [s0, s1] = o.scale ?? [0.08, 1];
  const [r0, r1] = o.ratio ?? [3 / 4, 4 / 3];
  for (let a = 0; a < 10; a++) {
    const w4 = block(a);
    const target = W * H * (s0 + (s1 - s0) * unit(w4[0]));
    const aspect = Math.exp(Math.log(r0) + (Math.log(r1) - Math.log(r0)) * unit(w4[1]));
    const w = roundHalfEven(Math.sqrt(target * aspect)), h = roundHalfEven(Math.sqrt(target / aspect));
    if (w > 0 && w <= W && h > 0 && h <= H) return [below(w4[2], H - h + 1), below(w4[3], W - w + 1), h, w, flip];
  }
  return [...fallbackWindow(W, H, r0, r1), flip] as Window;
}
/** torchvision's fallback: the image's ratio clamped to [r0, r1], centred. */
function fallbackWindow(W: number, H: number, r0: number, r1: number): [number, number, number, number] {
  let w = W, h = H;
  if (W / H < r0) h = roundHalfEven(W / r0);
  else if (W / H > r1) w = roundHalfEven(H * r1);
  w = Math.max(1, Math.min(W, w));
  h = Math.max(1, Math.min(H, h));
  return [Math.floor((H - h) / 2), Math.floor((W - w) / 2), h, w];
}

/** Full options for imageBatch / imageCropDraws. */
function options(o: RefTransform & { channels?: number; classes?: number; start?: number; mean?: number[]; std?: number[] }): NativeImageBatchOptions {
  return {
    channels: o.channels ?? 3,
    size: o.size,
    classes: o.classes ?? 4,
    start: o.start ?? 0,
    seed: o.seed,
    epoch: o.epoch,
    transform: o.transform,
    ...(o.scale ? { scale: o.scale } : {}),
    ...(o.ratio ? { ratio: o.ratio } : {}),
    ...(o.resizeTo !== undefined ? { resizeTo: o.resizeTo } : {}),
    ...(o.flip !== undefined ? { flip: o.flip } : {}),
    ...(o.mean ? { mean: Float32Array.from(o.mean), std: Float32Array.from(o.std!) } : {}),
  };
}

describe('imageCropDraws', () => {
  test('random-resized-crop: the reference’s windows, inside the image, area and ratio in range, flips half the time', () => {
    const o: RefTransform = { transform: 'random-resized-crop', size: [224, 224], seed: 2 ** 40 + 17, epoch: 3, flip: true };
    const [W, H] = [500, 375];
    const start = 2 ** 31 + 5, count = 2000;
    const draws = native().imageCropDraws(options(o), W, H, start, count);
    expect(draws.length).toBe(5 * count);
    let flips = 0, fallbacks = 0;
    for (let i = 0; i < count; i++) {
      const got = Array.from(draws.subarray(5 * i, 5 * i + 5));
      expect(got).toEqual(refWindow(o, W, H, start + i));
      const [top, left, h, w, flip] = got;
      expect(top >= 0 && left >= 0 && h >= 1 && w >= 1 && top + h <= H && left + w <= W).toBe(true);
      const area = (w * h) / (W * H);
      // rounding each side moves the area and ratio a little off the drawn ones
      expect(area).toBeGreaterThan(0.08 * 0.9);
      expect(area).toBeLessThanOrEqual(1);
      expect(w / h).toBeGreaterThan((3 / 4) * 0.9);
      expect(w / h).toBeLessThan((4 / 3) * 1.1);
      flips += flip;
      if (w === W && h === H) fallbacks++;
    }
    expect(flips).toBeGreaterThan(900);
    expect(flips).toBeLessThan(1100);
    expect(fallbacks).toBeLessThan(100);
    // Without flip, the windows stay and the flips are 0; another epoch draws other windows.
    const still = native().imageCropDraws(options({ ...o, flip: false }), W, H, start, count);
    for (let i = 0; i < count; i++) {
      expect(Array.from(still.subarray(5 * i, 5 * i + 4))).toEqual(Array.from(draws.subarray(5 * i, 5 * i + 4)));
      expect(still[5 * i + 4]).toBe(0);
    }
    const other = native().imageCropDraws(options({ ...o, epoch: 4 }), W, H, start, count);
    expect(Array.from(other)).not.toEqual(Array.from(draws));
  });

  test.each([
    // [what, W, H, scale, ratio, window]: no attempt can succeed, so torchvision's fallback
    ['ratio above the image’s: full width, h = round(W / r0)', 300, 200, [1, 1], [2, 3], [25, 0, 150, 300]],
    ['ratio below the image’s: full height, w = round(H · r1)', 300, 200, [1, 1], [0.2, 0.25], [0, 125, 200, 50]],
    ['a tall image, ratio above: h = round(W / r0)', 7, 101, [1, 1], [1.5, 2], [48, 0, 5, 7]],
    ['a 1-pixel-wide image: h rounds to 0, kept at 1', 1, 9, [1, 1], [4, 5], [4, 0, 1, 1]],
  ] as [string, number, number, [number, number], [number, number], number[]][])('the fallback: %s', (_what, W, H, scale, ratio, window) => {
    const o: RefTransform = { transform: 'random-resized-crop', size: [8, 8], seed: 1, epoch: 0, scale, ratio };
    const draws = native().imageCropDraws(options(o), W, H, 0, 50);
    expect(fallbackWindow(W, H, ratio[0], ratio[1])).toEqual(window);
    for (let i = 0; i < 50; i++) expect(Array.from(draws.subarray(5 * i, 5 * i + 4))).toEqual(window);
  });

  test('center-crop: the central window of the resized image (shorter side resizeTo, longer floored)', () => {
    for (const [W, H, resizeTo, size, expected] of [
      [500, 375, 256, [224, 224], [16, 58, 224, 224]], // resized 341×256: left = round(58.5) = 58 (half to even)
      [375, 500, 256, [224, 224], [58, 16, 224, 224]],
      [300, 200, 40, [32, 24], [4, 18, 32, 24]], // resized 60×40
      [37, 23, 24, [24, 7], [0, 16, 24, 7]], // resized floor(24·37/23) = 38 × 24: left = round(15.5) = 16
      [64, 64, 64, [64, 64], [0, 0, 64, 64]],
    ] as [number, number, number, [number, number], number[]][]) {
      const o: RefTransform = { transform: 'center-crop', size, seed: 3, epoch: 1, resizeTo };
      const draws = native().imageCropDraws(options(o), W, H, 10, 3);
      expect(refWindow(o, W, H, 10).slice(0, 4)).toEqual(expected);
      for (let i = 0; i < 3; i++) expect(Array.from(draws.subarray(5 * i, 5 * i + 5))).toEqual([...expected, 0]);
    }
  });

  test('stretch: the whole image', () => {
    const draws = native().imageCropDraws(options({ transform: 'stretch', size: [5, 9], seed: 0, epoch: 0, flip: true }), 37, 23, 0, 20);
    for (let i = 0; i < 20; i++) {
      expect(Array.from(draws.subarray(5 * i, 5 * i + 4))).toEqual([0, 0, 23, 37]);
      expect(draws[5 * i + 4]).toBe(refWindow({ transform: 'stretch', size: [5, 9], seed: 0, epoch: 0, flip: true }, 37, 23, i)[4]);
    }
  });
});

// --- reference: the resize of note [image transforms], in float64 -------------------------------
/** Weights of n outputs along an axis: source [begin, begin + len) resized to `resized`, outputs offset… */
function axisWeights(begin: number, len: number, resized: number, offset: number, n: number): { first: number; w: number[] }[] {
  const scale = len / resized, support = Math.max(1, scale);
  const out: { first: number; w: number[] }[] = [];
  for (let j = 0; j < n; j++) {
    const c = begin + (offset + j + 0.5) * scale;
    const w: number[] = [];
    let total = 0;
    for (let x = begin; x < begin + len; x++) {
      const k = Math.max(0, 1 - Math.abs(x + 0.5 - c) / support);
      w.push(k);
      total += k;
    }
    out.push({ first: begin, w: w.map((k) => k / total) });
  }
  return out;
}
/** The transformed CHW output of one decoded image for a window from imageCropDraws. */
function refTransform(img: { data: Uint8Array; width: number; height: number }, C: number, o: RefTransform & { mean?: number[]; std?: number[] }, win: Window): Float64Array {
  const [OH, OW] = o.size;
  const [top, left, h, w, flip] = win;
  const W = img.width, H = img.height;
  // center-crop windows are in the resized image: the source is the whole image
  const center = o.transform === 'center-crop';
  const [RH, RW] = center ? (W <= H ? [Math.floor((o.resizeTo! * H) / W), o.resizeTo!] : [o.resizeTo!, Math.floor((o.resizeTo! * W) / H)]) : [OH, OW];
  const wx = center ? axisWeights(0, W, RW, left, OW) : axisWeights(left, w, OW, 0, OW);
  const wy = center ? axisWeights(0, H, RH, top, OH) : axisWeights(top, h, OH, 0, OH);
  const out = new Float64Array(C * OH * OW);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < OH; i++) {
      for (let j = 0; j < OW; j++) {
        const col = wx[flip ? OW - 1 - j : j];
        let v = 0;
        wy[i].w.forEach((ky, a) => {
          if (ky === 0) return;
          const row = wy[i].first + a;
          col.w.forEach((kx, b) => {
            if (kx !== 0) v += ky * kx * img.data[(row * W + col.first + b) * C + c];
          });
        });
        if (o.mean) v = (v - o.mean[c]) / o.std![c];
        out[(c * OH + i) * OW + j] = v;
      }
    }
  }
  return out;
}

// --- batches -------------------------------------------------------------------------------------
describe('imageBatch', () => {
  /** The files of a small folder: JPEGs and PNGs of several sizes and shapes. */
  function folder(): { files: string[]; labels: Int32Array } {
    const files = [
      write('a.jpg', fx.bigJpeg),
      write('b.png', fx.rgbPng),
      write('c.jpg', fx.tallJpeg),
      write('d.png', fx.bigPng),
      write('e.jpg', fx.rgbJpeg),
    ];
    return { files, labels: Int32Array.of(3, 0, 2, 1, 3) };
  }
  function batch(files: string[], labels: Int32Array, order: Int32Array, o: NativeImageBatchOptions) {
    const n = order.length, [oh, ow] = o.size;
    const x = new Float32Array(n * o.channels * oh * ow).fill(-7);
    const y = new Float32Array(n * o.classes).fill(-7);
    const labelsOut = new Int32Array(n).fill(-7);
    const result = native().imageBatch(files, labels, order, o, x, y, labelsOut);
    return { x, y, labelsOut, result };
  }

  withImages.each([
    ['random-resized-crop, flip, normalised', { transform: 'random-resized-crop', size: [24, 20], seed: 5, epoch: 2, flip: true, mean: [120, 110.5, 100.25], std: [60, 55.5, 0.5] }, 3],
    ['random-resized-crop, narrow scale and ratio', { transform: 'random-resized-crop', size: [16, 16], seed: 9, epoch: 0, scale: [0.5, 0.6], ratio: [0.5, 2] }, 3],
    ['random-resized-crop, one channel, enlarging', { transform: 'random-resized-crop', size: [64, 80], seed: 2, epoch: 1, flip: true, mean: [100], std: [50] }, 1],
    ['center-crop 256 → 224 as ImageNet, normalised', { transform: 'center-crop', size: [224, 224], resizeTo: 256, seed: 0, epoch: 0, mean: [124, 116, 104], std: [58, 57, 57] }, 3],
    ['center-crop, small and not square', { transform: 'center-crop', size: [12, 20], resizeTo: 21, seed: 4, epoch: 0, flip: true }, 3],
    ['stretch with flip, one channel', { transform: 'stretch', size: [17, 29], seed: 1, epoch: 5, flip: true }, 1],
    ['stretch to the image’s own size is a copy', { transform: 'stretch', size: [23, 37], seed: 1, epoch: 0 }, 3],
  ] as [string, RefTransform & { mean?: number[]; std?: number[] }, number][])('%s: the float64 reference within 1e-3; one-hot y and labels', async (what, o, channels) => {
    const { files, labels } = folder();
    const order = Int32Array.of(4, 0, 2, 1, 3, 0, 4);
    const start = 100;
    const opts = options({ ...o, channels, classes: 4, start });
    const { x, y, labelsOut, result } = batch(files, labels, order, opts);
    expect(result).toEqual({ count: order.length, failed: [] });
    const [OH, OW] = o.size, row = channels * OH * OW;
    let flips = 0;
    for (let i = 0; i < order.length; i++) {
      const file = files[order[i]];
      const img = native().decodeImage(fs.readFileSync(file), channels as 1 | 3);
      const win = Array.from(native().imageCropDraws(opts, img.width, img.height, start + i, 1)) as Window;
      expect(win).toEqual(refWindow(o, img.width, img.height, start + i));
      flips += win[4];
      const ref = refTransform(img, channels, o, win);
      const got = x.subarray(i * row, (i + 1) * row);
      expect([what, file, maxDiff(got, ref) <= 1e-3]).toEqual([what, file, true]);
      if (what.endsWith('is a copy') && file.endsWith('b.png')) expect(Array.from(got)).toEqual(Array.from(ref));
      expect(labelsOut[i]).toBe(labels[order[i]]);
      expect(Array.from(y.subarray(i * 4, i * 4 + 4))).toEqual([0, 1, 2, 3].map((k) => (k === labels[order[i]] ? 1 : 0)));
    }
    if (!o.flip) expect(flips).toBe(0);
  });

  withImages('a flip is the mirror image of the unflipped output', async () => {
    const { files, labels } = folder();
    const o: RefTransform = { transform: 'center-crop', size: [16, 16], resizeTo: 20, seed: 0, epoch: 0, flip: true };
    const order = Int32Array.from({ length: 16 }, () => 0);
    const flipped = batch(files, labels, order, options(o));
    const plain = batch(files, labels, order, options({ ...o, flip: false }));
    const draws = native().imageCropDraws(options(o), 300, 200, 0, 16);
    let flips = 0;
    for (let i = 0; i < 16; i++) {
      const f = draws[5 * i + 4];
      flips += f;
      for (let c = 0; c < 3; c++) {
        for (let r = 0; r < 16; r++) {
          const base = ((i * 3 + c) * 16 + r) * 16;
          const a = Array.from(flipped.x.subarray(base, base + 16)), b = Array.from(plain.x.subarray(base, base + 16));
          expect(a).toEqual(f ? b.reverse() : b);
        }
      }
    }
    expect(flips).toBeGreaterThan(2);
    expect(flips).toBeLessThan(14);
  });

  withImages('unreadable images are left out: reported by position and file, the rows after them move up', async () => {
    const { files, labels } = folder();
    const all = [
      ...files,
      write('truncated.jpg', fx.bigJpeg.subarray(0, fx.bigJpeg.length >> 1)),
      write('truncated.png', fx.bigPng.subarray(0, fx.bigPng.length - 40)),
      write('empty.jpg', Buffer.alloc(0)),
      write('notes.txt', Buffer.from('not an image')),
      path.join(dir, 'missing.jpg'),
      dir,
    ];
    const allLabels = Int32Array.from([...labels, 1, 1, 2, 2, 3, 0]);
    const o = options({ transform: 'random-resized-crop', size: [12, 12], seed: 3, epoch: 1, flip: true, start: 40 });
    // positions 40..51; the bad files at 41, 43, 44, 46, 48, 50
    const order = Int32Array.of(0, 5, 1, 6, 7, 2, 8, 3, 9, 4, 10, 0);
    const { x, y, labelsOut, result } = batch(all, allLabels, order, o);
    expect(result.count).toBe(6);
    expect(result.failed).toEqual([
      { position: 41, file: all[5], message: 'truncated or corrupt JPEG data: Premature end of JPEG file' },
      { position: 43, file: all[6], message: expect.stringMatching(/^corrupt PNG: /) },
      { position: 44, file: all[7], message: 'is empty (0 bytes)' },
      { position: 46, file: all[8], message: 'not a JPEG or PNG image (12 bytes starting 6e 6f 74 20 61 6e 20 69)' },
      { position: 48, file: all[9], message: 'cannot open (No such file or directory)' },
      { position: 50, file: all[10], message: 'is a directory, not an image file' },
    ]);
    // The good rows equal those of the same positions in a batch of good files only.
    const goodOrder = Int32Array.from(order, (j) => (j >= 5 ? 0 : j));
    const clean = batch(all, allLabels, goodOrder, o);
    expect(clean.result).toEqual({ count: 12, failed: [] });
    const row = 3 * 12 * 12;
    const kept = [0, 2, 5, 7, 9, 11];
    kept.forEach((p, r) => {
      expect(Array.from(x.subarray(r * row, (r + 1) * row))).toEqual(Array.from(clean.x.subarray(p * row, (p + 1) * row)));
      expect(Array.from(y.subarray(r * 4, r * 4 + 4))).toEqual(Array.from(clean.y.subarray(p * 4, p * 4 + 4)));
      expect(labelsOut[r]).toBe(allLabels[order[p]]);
    });
    // The rows from count on: zeros, and label −1.
    expect(x.subarray(6 * row).every((v) => v === 0)).toBe(true);
    expect(y.subarray(6 * 4).every((v) => v === 0)).toBe(true);
    expect(Array.from(labelsOut.subarray(6))).toEqual([-1, -1, -1, -1, -1, -1]);
  });

  withImages('the same bytes for 1 and 2 threads; sync and async agree', async () => {
    const { files, labels } = folder();
    const order = Int32Array.from({ length: 24 }, (_, i) => (i * 3) % 5);
    const o = options({ transform: 'random-resized-crop', size: [32, 28], seed: 77, epoch: 9, flip: true, start: 1000, mean: [1, 2, 3], std: [50, 60, 70] });
    const before = getNumThreads();
    try {
      setNumThreads(1);
      const one = batch(files, labels, order, o);
      setNumThreads(2);
      const two = batch(files, labels, order, o);
      expect(Buffer.from(two.x.buffer).equals(Buffer.from(one.x.buffer))).toBe(true);
      expect(Array.from(two.labelsOut)).toEqual(Array.from(one.labelsOut));
      const x = new Float32Array(one.x.length), y = new Float32Array(one.y.length), l = new Int32Array(order.length);
      const result = await native().imageBatchAsync(files, labels, order, o, x, y, l);
      expect(result).toEqual({ count: 24, failed: [] });
      expect(Buffer.from(x.buffer).equals(Buffer.from(one.x.buffer))).toBe(true);
      expect(Array.from(y)).toEqual(Array.from(one.y));
      expect(Array.from(l)).toEqual(Array.from(one.labelsOut));
      // failures come back from the async variant too
      const bad = [...files, path.join(dir, 'nowhere.png')];
      const r2 = await native().imageBatchAsync(bad, Int32Array.from([...labels, 0]), Int32Array.of(5, 0), { ...o, start: 7 }, x.subarray(0, 2 * 3 * 32 * 28), y.subarray(0, 8), l.subarray(0, 2));
      expect(r2).toEqual({ count: 1, failed: [{ position: 7, file: bad[5], message: 'cannot open (No such file or directory)' }] });
    } finally {
      setNumThreads(before);
    }
  });

  test('every bad option is refused by name, before anything is written', async () => {
    const files = ['/nonexistent/a.jpg', '/nonexistent/b.png'];
    const labels = Int32Array.of(0, 1);
    const base = options({ transform: 'random-resized-crop', size: [4, 4], seed: 0, epoch: 0, classes: 2 });
    const order = Int32Array.of(1, 0);
    const x = new Float32Array(2 * 3 * 16).fill(5), y = new Float32Array(4).fill(5), l = new Int32Array(2).fill(5);
    const cases: [string, Partial<Record<keyof NativeImageBatchOptions, unknown>>, ErrorConstructor, RegExp][] = [
      ['channels 2', { channels: 2 }, RangeError, /imageBatch: channels must be 1 or 3, got 2/],
      ['channels "3"', { channels: '3' }, TypeError, /imageBatch: options.channels must be a number, got string/],
      ['size 0', { size: [0, 4] }, RangeError, /imageBatch: size must be \[h, w\] with 1 <= h, w <= 32768, got \[0, 4\]/],
      ['size 2^15 + 1', { size: [4, 32769] }, RangeError, /imageBatch: size must be/],
      ['size 1.5', { size: [1.5, 4] }, RangeError, /imageBatch: size must be a positive integer, got 1.5/],
      ['no size', { size: undefined }, TypeError, /imageBatch: options.size must be \[h, w\]/],
      ['classes 0', { classes: 0 }, RangeError, /imageBatch: classes must be a positive integer, got 0/],
      ['transform', { transform: 'crop' }, RangeError, /imageBatch: transform must be 'random-resized-crop', 'center-crop' or 'stretch', got 'crop'/],
      ['transform missing', { transform: undefined }, TypeError, /imageBatch: options.transform must be/],
      ['scale 0', { scale: [0, 1] }, RangeError, /imageBatch: scale must be \[lo, hi\] with 0 < lo <= hi <= 1, got \[0, 1\]/],
      ['scale reversed', { scale: [0.5, 0.2] }, RangeError, /imageBatch: scale must be .* got \[0.5, 0.2\]/],
      ['scale above 1', { scale: [0.5, 1.5] }, RangeError, /imageBatch: scale must be/],
      ['scale NaN', { scale: [NaN, 1] }, RangeError, /imageBatch: scale must be .* got \[NaN, 1\]/],
      ['scale a number', { scale: 0.5 }, TypeError, /imageBatch: options.scale must be \[number, number\], got number/],
      ['ratio 0', { ratio: [0, 1] }, RangeError, /imageBatch: ratio must be \[lo, hi\] with 0 < lo <= hi, both finite, got \[0, 1\]/],
      ['ratio reversed', { ratio: [2, 1] }, RangeError, /imageBatch: ratio must be/],
      ['ratio infinite', { ratio: [1, Infinity] }, RangeError, /imageBatch: ratio must be .* got \[1, Infinity\]/],
      ['ratio of length 3', { ratio: [1, 2, 3] }, TypeError, /imageBatch: options.ratio must be \[number, number\], got array of length 3/],
      ['resizeTo missing', { transform: 'center-crop' }, TypeError, /imageBatch: options.resizeTo must be a number, got undefined/],
      ['resizeTo below size', { transform: 'center-crop', size: [4, 6], resizeTo: 5 }, RangeError, /imageBatch: resizeTo must be an integer from max\(size\) = 6 to 32768 for 'center-crop', got 5/],
      ['resizeTo 1.5', { transform: 'center-crop', resizeTo: 1.5 }, RangeError, /imageBatch: resizeTo must be a non-negative safe integer, got 1.5/],
      ['flip 1', { flip: 1 }, TypeError, /imageBatch: options.flip must be a boolean, got number/],
      ['mean without std', { mean: Float32Array.of(1, 2, 3) }, RangeError, /imageBatch: mean and std must be given together, got only mean/],
      ['mean of 2', { mean: Float32Array.of(1, 2), std: Float32Array.of(1, 1) }, RangeError, /imageBatch: mean and std must have one value per channel \(3\), got 2 and 2/],
      ['std 0', { mean: Float32Array.of(0, 0, 0), std: Float32Array.of(1, 0, 1) }, RangeError, /imageBatch: std\[1\] must be positive and finite, got 0/],
      ['mean NaN', { mean: Float32Array.of(0, NaN, 0), std: Float32Array.of(1, 1, 1) }, RangeError, /imageBatch: mean\[1\] must be finite, got NaN/],
      ['seed -1', { seed: -1 }, RangeError, /imageBatch: seed must be a non-negative safe integer, got -1/],
      ['epoch 2^32', { epoch: 2 ** 32 }, RangeError, /imageBatch: epoch must be below 2\^32, got 4294967296/],
      ['start past 2^32', { start: 2 ** 32 - 1 }, RangeError, /imageBatch: positions \[4294967295, 4294967297\) must lie in \[0, 2\^32\)/],
    ];
    for (const [what, change, type, message] of cases) {
      const o = { ...base, ...change } as NativeImageBatchOptions;
      let error: Error | undefined;
      try {
        native().imageBatch(files, labels, order, o, x, y, l);
      } catch (e) {
        error = e as Error;
      }
      expect([what, error?.constructor.name, error?.message]).toEqual([what, type.name, expect.stringMatching(message)]);
    }
    const call = (f: unknown, lab: Int32Array, ord: Int32Array, xx: Float32Array, yy = y, ll = l) => () =>
      native().imageBatch(f as string[], lab, ord, base, xx, yy, ll);
    expect(call('a.jpg', labels, order, x)).toThrow(/imageBatch: files must be an array of strings, got string/);
    expect(call(['a.jpg', 5], labels, order, x)).toThrow(/imageBatch: files\[1\] must be a string, got number/);
    expect(call(files, Int32Array.of(0), order, x)).toThrow(/imageBatch: labels has 1 values but files has 2/);
    expect(call(files, labels, Int32Array.of(1, 2), x)).toThrow(/imageBatch: order\[1\] = 2 is outside \[0, 2\)/);
    expect(call(files, Int32Array.of(0, 2), order, x)).toThrow(/imageBatch: label 2 of example 1 is outside \[0, 2\)/);
    expect(call(files, labels, order, x.subarray(1))).toThrow(/imageBatch: x has 95 values but 2 images of 3×4×4 need 96/);
    expect(call(files, labels, order, x, y.subarray(1))).toThrow(/imageBatch: y has 3 values but 2 one-hot rows of 2 need 4/);
    expect(call(files, labels, order, x, y, l.subarray(1))).toThrow(/imageBatch: labelsOut has 1 values, expected 2/);
    expect(call(files, labels, new Float32Array(2) as unknown as Int32Array, x)).toThrow(/imageBatch: order must be a Int32Array, got float32 data/);
    // nothing was written by any of them
    expect(x.every((v) => v === 5) && y.every((v) => v === 5) && l.every((v) => v === 5)).toBe(true);
    // the async variant rejects (never throws) with the same errors, naming itself
    const rejection = async (p: () => Promise<unknown>): Promise<[string, string]> => {
      try {
        await p();
      } catch (e) {
        return [(e as Error).constructor.name, (e as Error).message];
      }
      return ['', ''];
    };
    const asyncCall = (o: NativeImageBatchOptions, lab = labels, ff: unknown = files) => native().imageBatchAsync(ff as string[], lab, order, o, x, y, l);
    expect(await rejection(() => asyncCall({ ...base, scale: [0, 1] }))).toEqual(['RangeError', expect.stringMatching(/^imageBatchAsync: scale must be/)]);
    expect(await rejection(() => asyncCall(base, Int32Array.of(0, 9)))).toEqual(['RangeError', 'imageBatchAsync: label 9 of example 1 is outside [0, 2)']);
    expect(await rejection(() => asyncCall({ ...base, transform: 7 } as unknown as NativeImageBatchOptions))).toEqual(['TypeError', expect.stringMatching(/^imageBatchAsync: options.transform must be/)]);
    expect(await rejection(() => asyncCall(base, labels, null))).toEqual(['TypeError', 'imageBatchAsync: files must be an array of strings, got null']);
    expect(x.every((v) => v === 5)).toBe(true);
    // imageCropDraws checks the same options and its own arguments
    expect(() => native().imageCropDraws({ ...base, ratio: [3, 1] }, 10, 10, 0, 1)).toThrow(/imageCropDraws: ratio must be/);
    expect(() => native().imageCropDraws(base, 0, 10, 0, 1)).toThrow(/imageCropDraws: width must be an integer from 1 to 32768, got 0/);
  });
});
