/** The ORT training engine: training steps compiled to ONNX graphs, run by onnxruntime-node. */
export { createOrtEngine, createOrtEngineWith } from './engine.js';
export type { OrtEngineExtras } from './engine.js';
export { compileTrainStep, compileInfer, TRAIN_OPSET } from './compile.js';
export type { TrainGraph, InferGraph } from './compile.js';
export { TRAIN_CONVERTERS } from './layers.js';
export { recomputeBatchNormStatsOrt } from './precise-bn.js';
