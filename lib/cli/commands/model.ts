/**
 * The commands that use a trained model file (lib/model): `newton-cnn predict` (top-k classes of
 * PNG/JPEG files or of a data file's records), `newton-cnn evaluate` (accuracy, top-5, per-class
 * accuracy, confusion matrix, loss on a labelled data set) and `newton-cnn export` (ONNX).
 *
 * @packageDocumentation
 */
import * as path from 'node:path';

import { firstN, loadRawData, toJson } from '../common';
import { readImageFile } from '../../data/image-files';
import { describePreprocessing, loadModel, type Evaluation, type Model } from '../../model';
import type { Dataset } from '../../data';
import type { EvaluateArgs, ExportArgs, PredictArgs } from '../model-args';
import { checkDevice } from '../common';
import { UsageError } from '../args';
import { EXIT, type CliIo } from '../io';

function pct(x: number): string {
  return Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : '–';
}

async function openModel(file: string, device: string): Promise<Model> {
  checkDevice(device);
  return loadModel(file, { device });
}

/** The labelled data set a command reads (the test split unless told otherwise), checked against the model. */
async function modelData(args: EvaluateArgs | PredictArgs, model: Model): Promise<Dataset> {
  if (args.data === undefined) throw new UsageError('--data is required');
  const raw = await loadRawData(args.data);
  const ds = args.split === 'train' ? firstN(raw.train, args.data.trainLimit) : firstN(raw.test, args.data.testLimit);
  const want = model.inputShape;
  if (ds.shape.some((d, i) => d !== want[i])) {
    throw new UsageError(`--data: '${ds.name}' has images of shape [${ds.shape.join(', ')}] but the model takes [${want.join(', ')}]`);
  }
  return ds;
}

/** `newton-cnn predict`. */
export async function runPredict(args: PredictArgs, io: CliIo): Promise<number> {
  const model = await openModel(args.model, args.device);
  try {
    const items: { source: string; pixels: Float32Array }[] = [];
    for (const file of args.images) items.push({ source: file, pixels: await readImageFile(file, model.inputShape, { resize: args.resize, ...(model.imageResize !== undefined ? { centerCrop: { resizeTo: model.imageResize } } : {}) }) });
    const size = model.inputShape[0] * model.inputShape[1] * model.inputShape[2];
    if (args.data !== undefined) {
      const ds = await modelData(args, model);
      for (let i = 0; i < ds.length; i++) items.push({ source: `${ds.name}#${i}`, pixels: ds.images.subarray(i * size, (i + 1) * size) });
    }
    if (items.length === 0) throw new UsageError('nothing to predict: give image files (PNG/JPEG) or --data');
    const images = new Float32Array(items.length * size);
    items.forEach((it, i) => images.set(it.pixels, i * size));
    const predictions = model.predict(images, { topK: args.topK, batchSize: args.batchSize });
    if (args.json) {
      io.stdout.write(`${toJson(items.map((it, i) => ({ source: it.source, top: predictions[i].top.map((t) => ({ index: t.index, name: t.name, probability: t.probability, score: t.score })) })))}\n`);
      return EXIT.ok;
    }
    // A squared-loss model (the paper's) regresses one-hot targets: its outputs are the scores to
    // read, their softmax is flat; a cross-entropy model's softmax is its class probabilities.
    const scores = model.loss === 'squared';
    if (!args.quiet) io.stderr.write(scores ? 'top classes with the network outputs (a squared-loss model: ≈ 1 for its class, ≈ 0 for the others)\n' : 'top classes with their probabilities\n');
    const width = Math.max(...items.map((it) => it.source.length));
    items.forEach((it, i) => {
      const top = predictions[i].top.map((t) => `${t.name} ${scores ? t.score.toFixed(3) : `${(100 * t.probability).toFixed(1)}%`}`).join(', ');
      io.stdout.write(`${it.source.padEnd(width)}  ${top}\n`);
    });
    return EXIT.ok;
  } finally {
    model.dispose();
  }
}

/** The evaluation as lines of text: the summary, per-class accuracy and the confusion matrix. */
export function evaluationReport(e: Evaluation, names: readonly string[]): string[] {
  const lines = [
    `examples: ${e.count}`,
    `accuracy: ${pct(e.accuracy)}`,
    `top-${e.topK} accuracy: ${pct(e.topKAccuracy)}`,
    `loss: ${e.loss.toPrecision(6)} (mean per example)`,
    '',
    'per class:',
  ];
  const nameWidth = Math.max(5, ...names.map((n) => n.length));
  names.forEach((n, c) => lines.push(`  ${n.padEnd(nameWidth)}  ${pct(e.perClassAccuracy[c]).padStart(7)}  (${e.support[c]} examples)`));
  lines.push('', 'confusion matrix (rows: true class, columns: predicted):');
  const cell = Math.max(4, ...e.confusion.flat().map((v) => String(v).length));
  const head = names.map((_, c) => String(c).padStart(cell)).join(' ');
  lines.push(`  ${''.padEnd(nameWidth)}  ${head}`);
  e.confusion.forEach((row, t) => lines.push(`  ${names[t].padEnd(nameWidth)}  ${row.map((v) => String(v).padStart(cell)).join(' ')}`));
  return lines;
}

/** `newton-cnn evaluate`. */
export async function runEvaluate(args: EvaluateArgs, io: CliIo): Promise<number> {
  const model = await openModel(args.model, args.device);
  try {
    const ds = await modelData(args, model);
    if (ds.classes > model.classes) {
      throw new UsageError(`--data: '${ds.name}' has ${ds.classes} classes but the model has ${model.classes}`);
    }
    const e = model.evaluate(ds, { batchSize: args.batchSize });
    if (args.json) {
      io.stdout.write(`${toJson({ model: args.model, data: ds.name, ...e, classNames: model.classNames })}\n`);
      return EXIT.ok;
    }
    io.stdout.write(`model: ${path.basename(args.model)} (${model.network.name}, ${model.network.numParameters} parameters, preprocessing: ${describePreprocessing(model.preprocessing)})\n`);
    io.stdout.write(`data: ${ds.name} (${args.split} split)\n`);
    for (const line of evaluationReport(e, model.classNames)) io.stdout.write(`${line}\n`);
    return EXIT.ok;
  } finally {
    model.dispose();
  }
}

/** `newton-cnn export`. */
export async function runExport(args: ExportArgs, io: CliIo): Promise<number> {
  const model = await openModel(args.model, 'cpu');
  try {
    await model.exportOnnx(args.onnx);
    io.stdout.write(`wrote ${args.onnx} (ONNX, opset 17; input 'input' (batch, ${model.inputShape.join(', ')}) of preprocessed images, output 'output' (batch, ${model.classes}))\n`);
    return EXIT.ok;
  } finally {
    model.dispose();
  }
}
