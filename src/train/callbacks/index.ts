export { progressBar, type ProgressBarOptions } from './progress.js';
export { earlyStopping, type EarlyStoppingOptions, type EarlyStoppingCallback } from './early-stopping.js';
export { checkpoint, type CheckpointInfo, type CheckpointOptions, type CheckpointSaver } from './checkpoint.js';
export { jsonlLogger, type JsonlLoggerOptions } from './jsonl-logger.js';
export { callbackFromFns } from './from-fns.js';
export { atomicWriteFile, atomicWriteFileSync } from './atomic.js';
export { Monitor, type MonitorKey, type MonitorMode } from './monitor.js';
export { lrFinder, exponentialSweep, type LrFinderOptions, type LrFinderRecord } from './lr-finder.js';
export { fitEvents } from './events.js';
