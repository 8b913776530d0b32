/** Transductive transfer: unsupervised domain adaptation and shift diagnostics. */
export { adaptModel, ADAPT_METHODS, type AdaptMethod, type AdaptOptions, type AdaptResult } from './adapt.js';
export { adaBn, sourceBnStats, type AdaBnMode, type AdaBnOptions, type AdaBnResult, type BnStats } from './adabn.js';
export { coralFold, firstDense, pooled, type CoralOptions, type CoralResult } from './coral.js';
export { pseudoLabel, selectConfident, type PseudoLabelOptions, type PseudoLabelRound } from './pseudo-label.js';
export { dann, gradientReversal, type DannOptions, type DannResult } from './dann.js';
export { shiftReport, type ShiftOptions, type ShiftReport, type ShiftVerdict } from './shift.js';
export { mmdPermutationTest, domainClassifierAccuracy, mmdUnbiased } from './stats.js';
export { confidenceStats, type ConfidenceStats } from './common.js';
