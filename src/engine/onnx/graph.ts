import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

// onnx-proto is CommonJS; Node's ESM loader only exposes its default export.
export const onnx: typeof OnnxTypes = (onnxProto as unknown as { onnx: typeof OnnxTypes }).onnx;
export type { OnnxTypes };

/** ONNX opset Graft emits. 13 has Softmax over one axis, Clip/Pad bounds as inputs, Reshape with 0. */
export const OPSET = 13;
/** IR version 8 matches the onnx 1.10 protobuf definitions of onnx-proto 8 (read by ORT >= 1.10). */
export const IR_VERSION = 8;

const FLOAT = 1;
const INT64 = 7;
const A = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;

export type AttrValue = number | string | number[];

// The float-typed attributes of the ops Graft emits (every other number is an INT).
const FLOAT_ATTRS = new Set(['alpha', 'beta', 'epsilon', 'gamma', 'momentum']);

/**
 * A tiny ONNX graph builder: nodes, initializers and unique value names. Everything becomes a
 * protobuf message through onnx-proto's generated `create` functions.
 *
 * @example
 * const g = new GraphBuilder();
 * const w = g.constFloat('w', new Float32Array([2]), [1]);
 * const y = g.node('Mul', ['x', w], {}, 'y');
 */
export class GraphBuilder {
  readonly nodes: OnnxTypes.INodeProto[] = [];
  readonly initializers: OnnxTypes.ITensorProto[] = [];
  /** Prefix of auto-named nodes (e.g. `fwd/conv1/`), so profiles can group nodes by purpose. */
  scope = '';
  private readonly used = new Set<string>();

  /** Reserve `base` (or `base_1`, `base_2`, ...) as a value name. */
  unique(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  /**
   * Float32 initializer, stored as raw little-endian bytes (compact and fast to encode). The bytes
   * are a view of `data`, not a copy: encode the model before `data` changes.
   */
  constFloat(base: string, data: Float32Array | number[], dims: number[]): string {
    const name = this.unique(base);
    const arr = data instanceof Float32Array ? data : Float32Array.from(data);
    const raw = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: FLOAT, rawData: raw }));
    return name;
  }

  constInt64(base: string, data: number[], dims: number[] = [data.length]): string {
    const name = this.unique(base);
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: INT64, int64Data: data }));
    return name;
  }

  /** Append a node; returns its (single) output name. `out` is reserved unique from it. */
  node(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, out?: string): string {
    const output = this.unique(out ?? `${this.scope}${op}_${this.nodes.length}`);
    const attribute = Object.entries(attrs).map(([name, v]) => attr(name, v));
    this.nodes.push(onnx.NodeProto.create({ opType: op, input: inputs, output: [output], name: output, attribute }));
    return output;
  }
}

function attr(name: string, v: AttrValue): OnnxTypes.IAttributeProto {
  if (typeof v === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: A.INTS, ints: v };
  return FLOAT_ATTRS.has(name) ? { name, type: A.FLOAT, f: v } : { name, type: A.INT, i: v };
}

/** A float32 tensor ValueInfo; `null` or string dims become symbolic. */
export function valueInfo(name: string, dims: (number | string | null)[]): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map((d, i) => (typeof d === 'number' && d >= 0 ? { dimValue: d } : { dimParam: typeof d === 'string' ? d : i === 0 ? 'N' : `d${i}` })) },
      },
    },
  };
}
