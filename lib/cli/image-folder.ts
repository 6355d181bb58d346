/**
 * The "folder of images" mistake: `--data photos/` where photos/ holds PNG or JPEG files (directly
 * or in one folder per class) but not the train/ and val/ parts of an image-folder data set gets a
 * message saying how to lay it out, instead of the CIFAR reader's "not a CIFAR binary directory".
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const IMAGE = /\.(png|jpe?g)$/i;

/** The data formats `newton-cnn train --data DIR|FILE` reads (for messages). */
export const SUPPORTED_DATA_FORMATS =
  'an IDX directory (MNIST / Fashion-MNIST: train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-…), ' +
  'a CIFAR-10/100 binary directory (data_batch_1..5.bin and test_batch.bin, or train.bin and test.bin), an SVHN directory (train_32x32.mat, test_32x32.mat), ' +
  'an image folder (DIR/train/CLASS/*.jpg|png and DIR/val/CLASS/…, or a flat DIR/val with --val-labels FILE) or a LIBSVM file (with --shape C,H,W)';

/** How many PNG/JPEG files `dir` holds directly and in its immediate subfolders (class folders); stops counting at `limit`. */
export function countImages(dir: string, limit = 1000): number {
  let n = 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    if (n >= limit) break;
    if (e.isFile() && IMAGE.test(e.name)) n++;
    else if (e.isDirectory()) {
      try {
        n += fs.readdirSync(path.join(dir, e.name)).filter((f) => IMAGE.test(f)).length;
      } catch {
        // unreadable: not counted
      }
    }
  }
  return n;
}

/** The message for a --data directory of images, or undefined when `data` is not one. */
export function imageFolderMessage(data: string, shown: string = data): string | undefined {
  if (!fs.existsSync(data) || !fs.statSync(data).isDirectory()) return undefined;
  const n = countImages(data);
  if (n === 0) return undefined;
  return (
    `--data: '${shown}' is a folder of ${n >= 1000 ? 'at least 1000' : n} PNG/JPEG image${n === 1 ? '' : 's'}, but not an image-folder data set: ` +
    `newton-cnn train reads one as ${shown}/train/CLASS/*.jpg (one folder per class) beside ${shown}/val/CLASS/*.jpg (or a flat val/ with --val-labels FILE). ` +
    `It reads ${SUPPORTED_DATA_FORMATS}. (newton-cnn predict reads single PNG/JPEG images, to classify them with a trained model.)`
  );
}
