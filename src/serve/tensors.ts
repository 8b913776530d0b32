// Open Inference Protocol v2 request bodies → what the model runs on. Spec: KServe
// open-inference-protocol, specification/protocol/inference_rest.md ($inference_request,
// $request_input, $request_output); the binary tensor extension is Triton's
// (docs/protocol/extension_binary_data.md): the JSON header's length in the
// `Inference-Header-Content-Length` header, each binary input marked with
// `parameters.binary_data_size`, tails in input order, BYTES elements as a 4-byte little-endian
// length followed by the bytes.
import { badRequest, HttpError } from './http-error.js';

/** What one inference request asks for, validated. */
export interface ParsedInfer {
  id?: string;
  /** Encoded images (input `image`, BYTES) or float32 pixels (input `pixels`, FP32/UINT8). */
  input: { kind: 'images'; name: string; images: Uint8Array[] } | { kind: 'pixels'; name: string; x: Float32Array; n: number };
  /** Return the output as a binary tail instead of JSON numbers. */
  binaryOutput: boolean;
  /** Triton's classification extension: top-k as BYTES "value:index:label" strings. */
  classification?: number;
}

export interface TensorLimits {
  /** [height, width] of the model input. */
  inputSize: readonly [number, number];
  maxImages: number;
  /** Names accepted for the pixel input (ours and the ONNX graph's). */
  pixelNames: readonly string[];
  /** Names accepted for the output. */
  outputNames: readonly string[];
}

export const IMAGE_INPUT = 'image';
export const PIXEL_INPUT = 'pixels';
export const OUTPUT = 'probabilities';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** Split a body into its JSON header and binary tail (the header length comes from the request header). */
export function splitBody(body: Buffer, headerLength: string | undefined): { json: Buffer; tail: Buffer } {
  if (headerLength === undefined) return { json: body, tail: body.subarray(body.length) };
  const n = /^\d+$/.test(headerLength.trim()) ? Number(headerLength) : NaN;
  if (!Number.isSafeInteger(n) || n > body.length) throw badRequest(`Inference-Header-Content-Length is ${JSON.stringify(headerLength)}; it must be the byte length of the JSON header, at most the body's ${body.length} bytes.`);
  return { json: body.subarray(0, n), tail: body.subarray(n) };
}

export function parseJson(json: Buffer): unknown {
  if (json.length === 0) throw badRequest('The request body is empty; send an $inference_request JSON object.');
  try {
    return JSON.parse(json.toString('utf8'));
  } catch (e) {
    throw badRequest(`The request body is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Validate an $inference_request against the model: one input, named `image` (BYTES, shape [n]:
 * encoded images, base64 strings in JSON) or `pixels` (FP32 or UINT8, shape [n, h, w, 3], raw RGB
 * values 0..255), data as JSON (flat or nested, row-major) or a binary tail. Every problem is a
 * 400 naming the field and what it must be.
 */
export function parseInfer(req: unknown, tail: Buffer, lim: TensorLimits): ParsedInfer {
  if (!isObj(req)) throw badRequest('The request body must be a JSON object ($inference_request) with an "inputs" array.');
  if (req.id !== undefined && typeof req.id !== 'string') throw badRequest(`"id" must be a string; got ${JSON.stringify(req.id)?.slice(0, 40)}.`);
  const params = req.parameters === undefined ? {} : req.parameters;
  if (!isObj(params)) throw badRequest('"parameters" must be an object.');
  if (!Array.isArray(req.inputs) || req.inputs.length === 0) throw badRequest('"inputs" must be a non-empty array of tensors ({name, shape, datatype, data}).');
  if (req.inputs.length > 1) throw badRequest(`This model takes exactly one input (${IMAGE_INPUT} or ${PIXEL_INPUT}); got ${req.inputs.length}.`);
  const inp = req.inputs[0];
  if (!isObj(inp)) throw badRequest('inputs[0] must be an object {name, shape, datatype, data}.');
  const { name, shape, datatype } = inp;
  if (typeof name !== 'string') throw badRequest('inputs[0].name must be a string.');
  if (!Array.isArray(shape) || !shape.every(isCount)) throw badRequest(`inputs[0].shape must be an array of non-negative integers; got ${JSON.stringify(shape)?.slice(0, 60)}.`);
  if (typeof datatype !== 'string') throw badRequest('inputs[0].datatype must be a string.');
  const ip = inp.parameters === undefined ? {} : inp.parameters;
  if (!isObj(ip)) throw badRequest('inputs[0].parameters must be an object.');
  let binary: Buffer | undefined;
  if (ip.binary_data_size !== undefined) {
    if (!isCount(ip.binary_data_size)) throw badRequest('inputs[0].parameters.binary_data_size must be a non-negative integer.');
    if (ip.binary_data_size !== tail.length) throw badRequest(`inputs[0].parameters.binary_data_size is ${ip.binary_data_size} but ${tail.length} bytes follow the JSON header.`);
    if (inp.data !== undefined) throw badRequest('inputs[0] has both "data" and a binary_data_size; send one.');
    binary = tail;
  } else if (tail.length > 0) throw badRequest(`${tail.length} bytes follow the JSON header but no input declares parameters.binary_data_size.`);
  const n = shape[0] ?? 0;
  if (n < 1) throw badRequest(`inputs[0].shape's first (batch) dimension must be at least 1; got ${JSON.stringify(shape)}.`);
  if (n > lim.maxImages) throw new HttpError(413, `inputs[0] holds ${n} images; this server takes at most ${lim.maxImages} per request (--max-images).`);

  const out = parseOutputs(req.outputs, params, lim);
  const id = req.id as string | undefined;
  if (name === IMAGE_INPUT) {
    if (datatype !== 'BYTES') throw badRequest(`inputs[0] "${IMAGE_INPUT}" holds encoded images: datatype must be BYTES; got ${datatype}.`);
    if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) throw badRequest(`inputs[0] "${IMAGE_INPUT}" must have shape [n] (one encoded image per element); got ${JSON.stringify(shape)}.`);
    const images = binary ? splitBytes(binary, n) : base64Elements(inp.data, n);
    return { id, input: { kind: 'images', name, images }, ...out };
  }
  if (!lim.pixelNames.includes(name)) throw badRequest(`inputs[0].name "${name}" is not an input of this model; use "${IMAGE_INPUT}" (BYTES [n], encoded images) or "${PIXEL_INPUT}" (FP32/UINT8 [n, ${lim.inputSize.join(', ')}, 3]).`);
  if (datatype !== 'FP32' && datatype !== 'UINT8') throw badRequest(`inputs[0] "${name}" takes datatype FP32 or UINT8 (RGB values 0..255); got ${datatype}.`);
  const [h, w] = lim.inputSize;
  if (shape.length !== 4 || shape[1] !== h || shape[2] !== w || shape[3] !== 3) throw badRequest(`inputs[0] "${name}" must have shape [n, ${h}, ${w}, 3] (NHWC RGB at the model's input size); got ${JSON.stringify(shape)}.`);
  const count = n * h * w * 3;
  const x = binary ? binaryPixels(binary, datatype, count) : jsonPixels(inp.data, datatype, count);
  return { id, input: { kind: 'pixels', name, x, n }, ...out };
}

function parseOutputs(outputs: unknown, params: Record<string, unknown>, lim: TensorLimits): { binaryOutput: boolean; classification?: number } {
  if (params.binary_data_output !== undefined && typeof params.binary_data_output !== 'boolean') throw badRequest('parameters.binary_data_output must be a boolean.');
  let binaryOutput = params.binary_data_output === true;
  let classification: number | undefined;
  if (outputs === undefined) return { binaryOutput };
  if (!Array.isArray(outputs) || outputs.length > 1) throw badRequest(`"outputs" must be an array naming at most the one output "${OUTPUT}".`);
  for (const o of outputs) {
    if (!isObj(o) || typeof o.name !== 'string') throw badRequest('Each of "outputs" must be an object with a string "name".');
    if (!lim.outputNames.includes(o.name)) throw badRequest(`outputs[0].name "${o.name}" is not an output of this model; it has "${OUTPUT}".`);
    const p = o.parameters === undefined ? {} : o.parameters;
    if (!isObj(p)) throw badRequest('outputs[0].parameters must be an object.');
    if (p.binary_data !== undefined) {
      if (typeof p.binary_data !== 'boolean') throw badRequest('outputs[0].parameters.binary_data must be a boolean.');
      binaryOutput = p.binary_data;
    }
    if (p.classification !== undefined) {
      if (!isCount(p.classification) || p.classification < 1) throw badRequest('outputs[0].parameters.classification must be an integer >= 1 (how many top classes).');
      classification = p.classification;
    }
  }
  return { binaryOutput, classification };
}

/** BYTES elements of a binary tail: each a uint32 little-endian length, then that many bytes. */
function splitBytes(b: Buffer, n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let off = 0;
  while (off < b.length) {
    if (off + 4 > b.length) throw badRequest(`inputs[0] binary data: element ${out.length} is cut inside its 4-byte length prefix (BYTES elements are a uint32 little-endian length, then the bytes).`);
    const len = b.readUInt32LE(off);
    if (off + 4 + len > b.length) throw badRequest(`inputs[0] binary data: element ${out.length} declares ${len} bytes but only ${b.length - off - 4} remain.`);
    out.push(b.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  if (out.length !== n) throw badRequest(`inputs[0] binary data holds ${out.length} BYTES elements; the shape says ${n}.`);
  return out;
}

const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

function base64Elements(data: unknown, n: number): Uint8Array[] {
  const flat = Array.isArray(data) ? data.flat() : undefined;
  if (!flat || flat.length !== n) throw badRequest(`inputs[0] "${IMAGE_INPUT}".data must be an array of ${n} base64 strings (one encoded image each); got ${Array.isArray(data) ? `${flat!.length} elements` : typeof data}.`);
  return flat.map((s, i) => {
    if (typeof s !== 'string' || !BASE64.test(s)) throw badRequest(`inputs[0] "${IMAGE_INPUT}".data[${i}] is not a base64 string of an encoded image.`);
    return Buffer.from(s, 'base64');
  });
}

function binaryPixels(b: Buffer, datatype: string, count: number): Float32Array {
  const bytes = datatype === 'FP32' ? 4 : 1;
  if (b.length !== count * bytes) throw badRequest(`inputs[0] binary data is ${b.length} bytes; ${count} ${datatype} values need ${count * bytes}.`);
  const x = new Float32Array(count);
  if (bytes === 1) for (let i = 0; i < count; i++) x[i] = b[i]!;
  else {
    // Copy through a fresh buffer: the tail need not be 4-byte aligned (little-endian, as the extension says).
    new Uint8Array(x.buffer).set(b);
    if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new HttpError(500, 'This server runs on a big-endian machine; binary FP32 tensors are not supported here.');
  }
  return checkValues(x, datatype);
}

/** Row-major JSON data, flat or nested to any depth, with the exact element count. */
function jsonPixels(data: unknown, datatype: string, count: number): Float32Array {
  if (!Array.isArray(data)) throw badRequest(`inputs[0].data must be an array of ${count} numbers (flat or nested, row-major).`);
  const x = new Float32Array(count);
  let k = 0;
  const stack: unknown[][] = [data];
  const idx: number[] = [0];
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const i = idx[idx.length - 1]!;
    if (i >= top.length) {
      stack.pop();
      idx.pop();
      continue;
    }
    idx[idx.length - 1] = i + 1;
    const v = top[i];
    if (Array.isArray(v)) {
      if (stack.length > 8) throw badRequest('inputs[0].data is nested deeper than the tensor has dimensions.');
      stack.push(v);
      idx.push(0);
    } else if (typeof v === 'number') {
      if (k >= count) throw badRequest(`inputs[0].data holds more than the ${count} values the shape declares.`);
      x[k++] = v;
    } else throw badRequest(`inputs[0].data element ${k} is ${JSON.stringify(v)?.slice(0, 20)}; ${datatype} data must be numbers.`);
  }
  if (k !== count) throw badRequest(`inputs[0].data holds ${k} values; the shape declares ${count}.`);
  return checkValues(x, datatype);
}

function checkValues(x: Float32Array, datatype: string): Float32Array {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (!Number.isFinite(v)) throw badRequest(`inputs[0] value ${i} is ${v}; pixel values must be finite.`);
    if (datatype === 'UINT8' && (v < 0 || v > 255 || !Number.isInteger(v))) throw badRequest(`inputs[0] value ${i} is ${v}; UINT8 values are integers 0..255.`);
  }
  return x;
}
