// The data path's public surface: folders/manifests → checked datasets → splits → decoded,
// augmented batches → cached backbone features.
export { decodeImage, decodeBytes, sniffFormat } from './decode.js';
export type { CropBox, DecodeOptions, DecodeResult, Decoded, DecodeFailure, FitMode } from './decode.js';
export { IMAGE_EXTENSIONS, isImagePath, loadImageFolder, loadManifest, loadDataset, alignClasses, findSplitFolders } from './dataset.js';
export type { Dataset, DatasetItem, SkippedFile } from './dataset.js';
export { hashFile, hashBytes, hashItems, checkDuplicates } from './hash.js';
export { stratifiedSplit, loadSplits } from './split.js';
export type { SplitFractions, Splits, LoadSplitsOptions } from './split.js';
export { Rng, deriveSeed } from './rng.js';
export { DEFAULT_AUGMENT, resolveAugment, randomResizedCrop, augmentPixels } from './augment.js';
export type { AugmentConfig, ResolvedAugment } from './augment.js';
export { BatchLoader } from './loader.js';
export type { Batch, LoaderOptions } from './loader.js';
export { FeatureCache, backboneKey, featureKey, defaultFeatureCacheDir } from '../features/cache-file.js';
export type { FeatureKeyParts } from '../features/cache-file.js';
