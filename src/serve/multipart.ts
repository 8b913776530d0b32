import type { FastifyRequest } from 'fastify';
import { HttpError, badRequest } from './http-error.js';

/** One file part of a multipart body, read whole. */
export interface FilePart {
  field: string;
  filename: string;
  bytes: Buffer;
}

/** The messages a caller gives for the three ways a body can be too large. */
export interface FilePartLimits {
  /** Bytes for the whole body (the multipart parser's own limits are per file). */
  bodyLimit: number;
  /** The whole body went past `bodyLimit`. */
  overBudget: string;
  /** One part went past the parser's per-file limit. */
  partTooLarge: (p: { field: string; filename: string }) => string;
  /** Appended to the parser's own files/parts/size limit message. */
  limitsHint: string;
}

/**
 * Every file part of a multipart body, within one byte budget for the whole body (shared by
 * `graft serve`'s classify routes and the studio's uploads). Non-file fields are ignored; going
 * past a limit is a 413 and a broken body a 400. An empty result is the caller's to judge.
 */
export async function readFileParts(req: FastifyRequest, o: FilePartLimits): Promise<FilePart[]> {
  const out: FilePart[] = [];
  let total = 0;
  try {
    for await (const part of req.parts()) {
      if (part.type !== 'file') continue;
      const chunks: Buffer[] = [];
      for await (const c of part.file as AsyncIterable<Buffer>) {
        total += c.length;
        if (total > o.bodyLimit) throw new HttpError(413, o.overBudget);
        chunks.push(c);
      }
      if (part.file.truncated) throw new HttpError(413, o.partTooLarge({ field: part.fieldname, filename: part.filename }));
      out.push({ field: part.fieldname, filename: part.filename, bytes: Buffer.concat(chunks) });
    }
  } catch (e) {
    if (e instanceof HttpError) throw e;
    const err = e as Error & { code?: string };
    if (err.code === 'FST_FILES_LIMIT' || err.code === 'FST_PARTS_LIMIT' || err.code === 'FST_REQ_FILE_TOO_LARGE') throw new HttpError(413, `${err.message} (${o.limitsHint}).`);
    throw badRequest(`The multipart body is malformed or truncated: ${err.message}`);
  }
  return out;
}
