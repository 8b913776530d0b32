/**
 * An error the server answers with its own HTTP status and `{ "error": message }` body (the Open
 * Inference Protocol's error object). `headers` carries e.g. `Retry-After` on a 503.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** 503 with `Retry-After` (seconds): the server is busy, the same request may succeed later. */
export const busy = (message: string, retryAfterS = 1): HttpError => new HttpError(503, message, { 'retry-after': String(retryAfterS) });

export const badRequest = (message: string): HttpError => new HttpError(400, message);
export const notFound = (message: string): HttpError => new HttpError(404, message);
