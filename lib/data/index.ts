/**
 * Data sets: readers (IDX, CIFAR binary, LIBSVM, SVHN .mat), named data sets, preprocessing, splitting, a seeded
 * RNG for data order, and mini-batch assembly.
 *
 * @packageDocumentation
 */
export type { Dataset, DatasetFields } from './dataset';
export { DataFileError, createDataset, subset, validateDataset, MAX_DATASET_VALUES } from './dataset';
export { Rng } from './rng';
export type { ReadIdxOptions } from './idx';
export { readIdx, readIdxAsync, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC } from './idx';
export type { ReadCifarOptions } from './cifar';
export { readCifar, readCifarAsync } from './cifar';
export type { ReadSvhnOptions } from './svhn';
export { readSvhn, readSvhnAsync, SVHN_CLASSES } from './svhn';
export type { MatArray, MatValues } from './mat';
export { parseMat, parseMatAsync } from './mat';
export type { ReadLibsvmOptions } from './libsvm';
export { readLibsvm, readLibsvmAsync } from './libsvm';
export type { ChannelStats } from './preprocess';
export { minMaxScale, pixelMean, subtractMean, paperPreprocess, channelStats, normalizeChannels } from './preprocess';
export { stratifiedSplit } from './split';
export { principalComponents, type PrincipalComponents, type PrincipalComponentsOptions } from './pca';
export type { GatherBatchOptions, Batch } from './batch';
export { gatherBatch } from './batch';
export type { LoadDatasetOptions, LoadedData, DataFormat } from './load';
export { loadDataset, DEFAULT_DATASET, FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, bundledDataDir, packageRoot } from './load';
export type { AugmentOptions, AugmentPreset, DataLoaderOptions, LoaderBatch } from './loader';
export { DataLoader, AUGMENT_PRESETS, resolveAugment } from './loader';
