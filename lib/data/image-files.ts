/**
 * PNG and JPEG files as network inputs, decoded by sharp (libvips with libjpeg-turbo and libpng,
 * installed from prebuilt binaries with the package; an optional dependency — without it these
 * functions throw an Error saying how to install it).
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';

import { DataFileError } from './dataset';

/** Options of readImageFile. */
export interface ReadImageOptions {
  /**
   * Resize an image whose size differs from [H, W] (default false: such an image is refused).
   * Resizing stretches to exactly H×W (no crop), with libvips' default (Lanczos) kernel.
   */
  resize?: boolean;
}

interface SharpModule {
  (input: Buffer, options?: { failOn?: string }): SharpPipeline;
}
interface SharpPipeline {
  metadata(): Promise<{ width?: number; height?: number; channels?: number; format?: string }>;
  resize(width: number, height: number, options: { fit: 'fill' }): SharpPipeline;
  removeAlpha(): SharpPipeline;
  toColourspace(space: string): SharpPipeline;
  raw(): SharpPipeline;
  toBuffer(options: { resolveWithObject: true }): Promise<{ data: Buffer; info: { width: number; height: number; channels: number } }>;
}

let sharpModule: SharpModule | null | undefined;

/** sharp, or null when it is not installed. */
function loadSharp(): SharpModule | null {
  if (sharpModule === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      sharpModule = require('sharp') as SharpModule;
    } catch {
      sharpModule = null;
    }
  }
  return sharpModule;
}

/** Whether PNG/JPEG decoding is available (the optional dependency sharp is installed). */
export function imageDecodingAvailable(): boolean {
  return loadSharp() !== null;
}

/**
 * Reads a PNG or JPEG file as one image of shape [C, H, W] (C = 1: luminance; C = 3: sRGB; an
 * alpha channel is dropped), pixel values 0..255 as float32, channel-major like the data sets.
 * @throws DataFileError naming the file: unreadable, not a PNG/JPEG, corrupt or truncated, or
 *   of another size (unless options.resize); Error when sharp is not installed.
 */
export async function readImageFile(file: string, shape: readonly [number, number, number], options: ReadImageOptions = {}): Promise<Float32Array> {
  const fn = 'readImageFile';
  const sharp = loadSharp();
  if (sharp === null) {
    throw new Error(`${fn}: ${file}: decoding PNG/JPEG needs the optional dependency 'sharp', which is not installed (npm install sharp)`);
  }
  const [c, h, w] = shape;
  if (c !== 1 && c !== 3) throw new RangeError(`${fn}: ${file}: images of ${c} channels cannot come from PNG/JPEG (1: grayscale, 3: RGB)`);
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new DataFileError(`${fn}: ${file}: ${err.code === 'ENOENT' ? 'no such file' : `cannot read it (${err.message})`}`, file);
  }
  try {
    // failOn 'truncated': a cut-off JPEG/PNG is an error, not a half-grey image
    const meta = await sharp(bytes, { failOn: 'truncated' }).metadata();
    if (meta.format !== 'png' && meta.format !== 'jpeg') throw new Error(`not a PNG or JPEG file (${meta.format ?? 'unknown format'})`);
    if (meta.width !== w || meta.height !== h) {
      if (options.resize !== true) throw new Error(`the image is ${meta.width ?? '?'}×${meta.height ?? '?'} but the model takes ${w}×${h} (resize it, or pass the resize option)`);
    }
    let pipeline = sharp(bytes, { failOn: 'truncated' });
    if (meta.width !== w || meta.height !== h) pipeline = pipeline.resize(w, h, { fit: 'fill' });
    pipeline = pipeline.removeAlpha().toColourspace(c === 1 ? 'b-w' : 'srgb');
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== c || info.width !== w || info.height !== h) {
      throw new Error(`decoded to ${info.channels} channels of ${info.width}×${info.height}, expected ${c} of ${w}×${h}`);
    }
    // interleaved HWC bytes → planar CHW floats
    const out = new Float32Array(c * h * w);
    const plane = h * w;
    for (let k = 0; k < plane; k++) for (let ch = 0; ch < c; ch++) out[ch * plane + k] = data[k * c + ch];
    return out;
  } catch (e) {
    throw new DataFileError(`${fn}: ${file}: ${(e as Error).message}`, file);
  }
}
