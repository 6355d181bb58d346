/**
 * Data sets: readers (IDX, CIFAR binary, LIBSVM, SVHN .mat), image folders (JPEG/PNG), named data sets, preprocessing, splitting, a seeded
 * RNG for data order, and mini-batch assembly.
 *
 * @packageDocumentation
 */
export type { Dataset, DatasetFields, ImageFolder, RecordFile, AnyDataset } from './dataset';
export { DataFileError, createDataset, subset, validateDataset, isImageFolder, isRecordFile, isStreamed, SkippedImages, MAX_DATASET_VALUES } from './dataset';
export type { OpenCifarRecordsOptions, OpenRecordDirectoryOptions, RecordData } from './records';
export { openCifarRecords, openIdxRecords, openRecordDirectory, normalizeRecords, paperPreprocessRecords, recordChannelStats } from './records';
export type { ImageFolderOptions } from './image-folder';
export { openImageFolder, readImageLabelFile, normalizeImageFolder, imageFolderChannelStats, IMAGENET_STATS, IMAGE_EXTENSIONS } from './image-folder';
export { Rng } from './rng';
export type { ReadIdxOptions } from './idx';
export { readIdx, readIdxAsync, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC } from './idx';
export type { ReadCifarOptions } from './cifar';
export { readCifar, readCifarAsync } from './cifar';
export type { ReadSvhnOptions } from './svhn';
export { readSvhn, readSvhnAsync, SVHN_CLASSES } from './svhn';
export type { OpenSvhnRecordsOptions } from './svhn-records';
export { openSvhnRecords, defaultSvhnCacheDir } from './svhn-records';
export type { MatArray, MatValues } from './mat';
export { parseMat, parseMatAsync } from './mat';
export type { ReadLibsvmOptions } from './libsvm';
export { readLibsvm, readLibsvmAsync } from './libsvm';
export type { ChannelStats } from './preprocess';
export { minMaxScale, pixelMean, subtractMean, paperPreprocess, channelStats, normalizeChannels, padImages } from './preprocess';
export { stratifiedSplit } from './split';
export { principalComponents, type PrincipalComponents, type PrincipalComponentsOptions } from './pca';
export type { GatherBatchOptions, Batch } from './batch';
export { gatherBatch, gatherBatchAsync } from './batch';
export type { LoadDatasetOptions, LoadedData, DataFormat } from './load';
export { loadDataset, DEFAULT_DATASET, FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, bundledDataDir, packageRoot } from './load';
export type { AugmentOptions, AugmentPreset, DataLoaderOptions, LoaderBatch } from './loader';
export { DataLoader, AUGMENT_PRESETS, RANDOM_RESIZED_CROP_RATIO, RANDOM_RESIZED_CROP_SCALE, resolveAugment } from './loader';
