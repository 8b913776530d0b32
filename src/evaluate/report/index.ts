export { renderReport } from './render.js';
export type { ReportData, ReportEpoch, ReportExample, ReportImage, ReportNote } from './types.js';
export { lineChart, esc, type Series, type LineChartOptions } from './charts.js';
