#!/usr/bin/env node
'use strict';
/**
 * Builds lib/data/bundled/fashion-mnist-small/ from the Debian package dataset-fashion-mnist
 * (`apt-get install dataset-fashion-mnist`; files under /usr/share/datasets/fashion-mnist).
 *
 *   train: the first 10,000 training images when every class has exactly 1,000 of them; otherwise
 *          the first 1,000 images of each class, kept in their original order (a stratified subset).
 *   test:  the first 2,000 test images.
 *
 * Output: {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (IDX format, gzip level 9, mtime 0 so the
 * bytes are reproducible). Usage: node scripts/make-bundled-data.js [sourceDir] [outDir]
 */
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');

const SOURCE = process.argv[2] || '/usr/share/datasets/fashion-mnist';
const OUT = process.argv[3] || path.join(__dirname, '..', 'lib', 'data', 'bundled', 'fashion-mnist-small');
const TRAIN_SIZE = 10000;
const TEST_SIZE = 2000;
const CLASSES = 10;

function readGz(name) {
  const file = path.join(SOURCE, name);
  if (!fs.existsSync(file)) {
    throw new Error(`${file} not found: install the Debian package with \`apt-get install dataset-fashion-mnist\``);
  }
  return zlib.gunzipSync(fs.readFileSync(file));
}

function parseImages(buf, name) {
  if (buf.readUInt32BE(0) !== 0x803) throw new Error(`${name}: not an IDX image file`);
  const [n, h, w] = [buf.readUInt32BE(4), buf.readUInt32BE(8), buf.readUInt32BE(12)];
  if (buf.length !== 16 + n * h * w) throw new Error(`${name}: size does not match its header`);
  return { n, h, w, pixels: buf.subarray(16) };
}

function parseLabels(buf, name) {
  if (buf.readUInt32BE(0) !== 0x801) throw new Error(`${name}: not an IDX label file`);
  const n = buf.readUInt32BE(4);
  if (buf.length !== 8 + n) throw new Error(`${name}: size does not match its header`);
  return buf.subarray(8);
}

function counts(labels) {
  const c = new Array(CLASSES).fill(0);
  for (const l of labels) c[l]++;
  return c;
}

/** Picks indices: the first `size` when balanced, else the first size/CLASSES of each class in order. */
function selectTrain(labels) {
  const first = labels.subarray(0, TRAIN_SIZE);
  const per = TRAIN_SIZE / CLASSES;
  if (counts(first).every((c) => c === per)) return { indices: [...Array(TRAIN_SIZE).keys()], stratified: false };
  const taken = new Array(CLASSES).fill(0);
  const indices = [];
  for (let i = 0; i < labels.length && indices.length < TRAIN_SIZE; i++) {
    if (taken[labels[i]] < per) {
      taken[labels[i]]++;
      indices.push(i);
    }
  }
  if (indices.length !== TRAIN_SIZE) throw new Error('not enough images per class for a stratified subset');
  return { indices, stratified: true };
}

function writeIdx(prefix, images, labels, indices) {
  const { h, w } = images;
  const img = Buffer.alloc(16 + indices.length * h * w);
  img.writeUInt32BE(0x803, 0);
  img.writeUInt32BE(indices.length, 4);
  img.writeUInt32BE(h, 8);
  img.writeUInt32BE(w, 12);
  const lab = Buffer.alloc(8 + indices.length);
  lab.writeUInt32BE(0x801, 0);
  lab.writeUInt32BE(indices.length, 4);
  indices.forEach((src, dst) => {
    images.pixels.copy(img, 16 + dst * h * w, src * h * w, (src + 1) * h * w);
    lab[8 + dst] = labels[src];
  });
  const gz = (b) => zlib.gzipSync(b, { level: 9 });
  const imagesFile = path.join(OUT, `${prefix}-images-idx3-ubyte.gz`);
  const labelsFile = path.join(OUT, `${prefix}-labels-idx1-ubyte.gz`);
  fs.writeFileSync(imagesFile, gz(img));
  fs.writeFileSync(labelsFile, gz(lab));
  const picked = lab.subarray(8);
  console.log(`${prefix}: ${indices.length} images ${h}x${w}, class counts [${counts(picked).join(', ')}], ` +
    `${fs.statSync(imagesFile).size + fs.statSync(labelsFile).size} bytes gzipped`);
}

function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const trainImages = parseImages(readGz('train-images-idx3-ubyte.gz'), 'train-images');
  const trainLabels = parseLabels(readGz('train-labels-idx1-ubyte.gz'), 'train-labels');
  const testImages = parseImages(readGz('t10k-images-idx3-ubyte.gz'), 't10k-images');
  const testLabels = parseLabels(readGz('t10k-labels-idx1-ubyte.gz'), 't10k-labels');
  console.log(`first ${TRAIN_SIZE} training labels: class counts [${counts(trainLabels.subarray(0, TRAIN_SIZE)).join(', ')}]`);
  const train = selectTrain(trainLabels);
  console.log(train.stratified
    ? `unbalanced: taking the first ${TRAIN_SIZE / CLASSES} images of each class in original order`
    : `balanced: taking the first ${TRAIN_SIZE} images`);
  writeIdx('train', trainImages, trainLabels, train.indices);
  writeIdx('t10k', testImages, testLabels, [...Array(TEST_SIZE).keys()]);
}

main();
