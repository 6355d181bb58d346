// sharp (an optional dependency) for the tests that write PNG/JPEG files: null when it is not
// installed, and the part of its API the tests use.

export interface RawInfo {
  width: number;
  height: number;
  channels: number;
}

export interface SharpImage {
  png(o?: { palette?: boolean; progressive?: boolean; colours?: number }): SharpImage;
  jpeg(o?: { quality?: number; progressive?: boolean; chromaSubsampling?: string }): SharpImage;
  toColourspace(c: string): SharpImage;
  removeAlpha(): SharpImage;
  extractChannel(c: number): SharpImage;
  raw(): SharpImage;
  toFile(file: string): Promise<unknown>;
  toBuffer(o: { resolveWithObject: true }): Promise<{ data: Buffer; info: RawInfo }>;
  toBuffer(): Promise<Buffer>;
}

export type Sharp = (input: Buffer, options?: { raw: RawInfo }) => SharpImage;

/** sharp, or null when it is not installed. */
export function loadSharp(): Sharp | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('sharp') as Sharp;
  } catch {
    return null;
  }
}
