import type { LineChartOptions, Series } from './charts.js';
import type { Evaluation, WorstExample } from '../metrics.js';
import type { EpochLogs } from '../../train/fit.js';

/** A small image embedded as a data: URI (keep it small: ~100 px thumbnails). */
export interface ReportImage {
  data: Uint8Array;
  mime: 'image/png' | 'image/jpeg' | 'image/webp';
}

/** One epoch of the learning curves; `stage` labels fine-tune phases ('head', 'unfreeze', …). */
export type ReportEpoch = EpochLogs & { stage?: string };

/** One of the worst-loss examples, with what the caller knows about the file behind it. */
export interface ReportExample extends WorstExample {
  /** File name or path shown under the thumbnail. */
  name?: string;
  thumbnail?: ReportImage;
}

/** A free-form section: paragraphs (blank-line separated plain text) and/or key–value rows. */
export interface ReportNote {
  title: string;
  text?: string;
  items?: [string, string][];
  /** A chart drawn by Graft (lineChart), shown under the text. */
  chart?: { series: Series[]; options: LineChartOptions };
}

/**
 * Everything `renderReport` shows. All strings are plain text (they are HTML-escaped);
 * nothing is fetched: thumbnails travel as bytes.
 */
export interface ReportData {
  /** Page title (default "Graft training report — <model.name>"). */
  title?: string;
  /**
   * Marks the report as built from synthetic or sample data: a banner says the numbers are not
   * real results.
   */
  sample?: boolean;
  /** ISO time of the run (default: now). */
  createdAt?: string;
  graftVersion?: string;
  model: {
    name: string;
    backbone?: string;
    cutLayer?: string;
    inputSize?: [number, number];
    engine?: string;
    params?: { trainable: number; total: number };
    /** Any further summary rows (e.g. weights source, preprocessing). */
    extra?: [string, string][];
  };
  /** Class names, index = class id. */
  classes: string[];
  dataset: {
    train: number;
    val?: number;
    test?: number;
    /** Where the images came from (folder, manifest). */
    source?: string;
    /** Files that could not be used, and why. */
    skipped?: { path: string; reason: string }[];
  };
  /** Learning curves; epochs in training order (stages concatenated). */
  history?: ReportEpoch[];
  /** Metrics on `split`, from `evaluateProbs`. */
  evaluation: Evaluation & { split: string };
  /** Worst examples with thumbnails; defaults to `evaluation.worst` without images. */
  worst?: ReportExample[];
  /** 'pixelated' suits tiny images (28×28) blown up; 'smooth' suits photos (default). */
  thumbnailRendering?: 'smooth' | 'pixelated';
  notes?: ReportNote[];
}
