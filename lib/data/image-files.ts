/**
 * PNG and JPEG files as network inputs, decoded by the native core's decoders (libjpeg-turbo,
 * libpng: the same as image folders, lib/data/image-folder.ts), so that a model sees a file
 * exactly as it saw its training images. Without a decoder in the build these functions throw an
 * Error naming the package to install.
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';

import { native } from '../native';
import { DataFileError } from './dataset';

/** Options of readImageFile. */
export interface ReadImageOptions {
  /**
   * Resize an image whose size differs from [H, W] (default false: such an image is refused):
   * stretched to exactly H×W, bilinear with antialiasing when shrinking (note [image transforms]
   * in native/core/image_transform.h).
   */
  resize?: boolean;
  /**
   * The evaluation transform of a model trained on an image folder: the shorter side resized to
   * this, then the central H×W window — whatever the file's size (resize is then not needed).
   */
  centerCrop?: { resizeTo: number };
}

/** Whether PNG and JPEG decoding are both available in this build. */
export function imageDecodingAvailable(): boolean {
  const c = native().imageCodecs();
  return c.jpeg.library !== null && c.png.library !== null;
}

/**
 * Reads a PNG or JPEG file as one image of shape [C, H, W] (C = 1: luminance; C = 3: RGB; an
 * alpha channel is dropped), pixel values 0..255 as float32, channel-major like the data sets.
 * @throws DataFileError naming the file: unreadable, not a PNG/JPEG, corrupt or truncated, or
 *   of another size (unless options.resize or options.centerCrop); Error when the build has no
 *   decoder for its format.
 */
export async function readImageFile(file: string, shape: readonly [number, number, number], options: ReadImageOptions = {}): Promise<Float32Array> {
  const fn = 'readImageFile';
  const [c, h, w] = shape;
  if (c !== 1 && c !== 3) throw new RangeError(`${fn}: ${file}: images of ${c} channels cannot come from PNG/JPEG (1: grayscale, 3: RGB)`);
  const crop = options.centerCrop;
  if (crop !== undefined && (!Number.isInteger(crop.resizeTo) || crop.resizeTo < Math.max(h, w))) {
    throw new RangeError(`${fn}: options.centerCrop.resizeTo must be an integer ≥ ${Math.max(h, w)} (the crop's longer side), got ${String(crop.resizeTo)}`);
  }
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new DataFileError(`${fn}: ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory, not an image file' : `cannot read it (${err.message})`}`, file);
  }
  let decoded: ReturnType<ReturnType<typeof native>['decodeImage']>;
  try {
    decoded = native().decodeImage(bytes, c);
  } catch (e) {
    const message = (e as Error).message.replace(/^decodeImage: /, '');
    if (/this build has no .* decoder/.test(message)) throw new Error(`${fn}: ${file}: ${message}`);
    throw new DataFileError(`${fn}: ${file}: ${message}`, file);
  }
  if (crop === undefined && (decoded.width !== w || decoded.height !== h)) {
    if (options.resize !== true) throw new DataFileError(`${fn}: ${file}: the image is ${decoded.width}×${decoded.height} but the model takes ${w}×${h} (resize it, or pass the resize option)`, file);
  }
  const out = new Float32Array(c * h * w);
  if (crop === undefined && decoded.width === w && decoded.height === h) {
    // interleaved HWC bytes → planar CHW floats
    const plane = h * w;
    for (let k = 0; k < plane; k++) for (let ch = 0; ch < c; ch++) out[ch * plane + k] = decoded.data[k * c + ch];
    return out;
  }
  // the native transform of one file: the same code as an image folder's batches
  const transform = crop !== undefined ? { transform: 'center-crop' as const, resizeTo: crop.resizeTo } : { transform: 'stretch' as const };
  const r = await native().imageBatchAsync([file], new Int32Array(1), new Int32Array(1), { channels: c, size: [h, w], classes: 1, start: 0, seed: 0, epoch: 0, ...transform }, out, new Float32Array(1), new Int32Array(1));
  if (r.count !== 1) throw new DataFileError(`${fn}: ${file}: ${r.failed[0]?.message ?? 'could not be read'}`, file);
  return out;
}
