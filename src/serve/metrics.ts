import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const LATENCY_BUCKETS = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The server's Prometheus metrics, on a registry of its own (two servers in one process, as in the
 * tests, do not share counters). Model labels only ever take names of loaded models, or
 * `_unknown`, so a client cannot grow the label set.
 *
 * @example
 * const m = new ServeMetrics();
 * m.batchSize.observe({ model: 'cats' }, 8);
 * const text = await m.registry.metrics();
 */
export class ServeMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'model' | 'route' | 'status'>;
  readonly latency: Histogram<'model' | 'route'>;
  readonly queueTime: Histogram<'model'>;
  readonly batchSize: Histogram<'model'>;
  readonly batchTime: Histogram<'model'>;
  readonly images: Counter<'model'>;
  readonly inFlight: Gauge;
  readonly queueDepth: Gauge<'model'>;
  readonly loadSeconds: Gauge<'model' | 'version'>;
  readonly loads: Counter<'model' | 'result'>;

  constructor(opts: { maxBatchSize: number }) {
    const registers = [this.registry];
    // process_resident_memory_bytes, heap, event-loop lag, GC: prom-client's defaults.
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: 'graft_serve_requests_total', help: 'Requests answered, by model, route and HTTP status.', labelNames: ['model', 'route', 'status'], registers });
    this.latency = new Histogram({ name: 'graft_serve_request_duration_seconds', help: 'Time from request received to response sent.', labelNames: ['model', 'route'], buckets: LATENCY_BUCKETS, registers });
    this.queueTime = new Histogram({ name: 'graft_serve_queue_seconds', help: 'Time a request waited in its model queue before its batch started.', labelNames: ['model'], buckets: LATENCY_BUCKETS, registers });
    const sizes: number[] = [];
    for (let b = 1; b < opts.maxBatchSize; b *= 2) sizes.push(b);
    sizes.push(opts.maxBatchSize);
    this.batchSize = new Histogram({ name: 'graft_serve_batch_size', help: 'Images per onnxruntime run.', labelNames: ['model'], buckets: [...new Set(sizes)], registers });
    this.batchTime = new Histogram({ name: 'graft_serve_batch_seconds', help: 'onnxruntime time per batch (worker round trip).', labelNames: ['model'], buckets: LATENCY_BUCKETS, registers });
    this.images = new Counter({ name: 'graft_serve_images_total', help: 'Images classified.', labelNames: ['model'], registers });
    this.inFlight = new Gauge({ name: 'graft_serve_in_flight_requests', help: 'Requests received and not yet answered.', registers });
    this.queueDepth = new Gauge({ name: 'graft_serve_queue_images', help: 'Images waiting for a batch, by model.', labelNames: ['model'], registers });
    this.loadSeconds = new Gauge({ name: 'graft_serve_model_load_seconds', help: 'Seconds the served version of a model took to load (session created and checked).', labelNames: ['model', 'version'], registers });
    this.loads = new Counter({ name: 'graft_serve_model_loads_total', help: 'Model loads and reloads, by result.', labelNames: ['model', 'result'], registers });
  }
}
