import { GraftError } from '../../errors.js';
import { onnx, type OnnxTypes } from './graph.js';

export type Layout = 'NCHW' | 'NHWC';

/** What Graft needs to know about a user's ONNX model to use it as a frozen backbone. */
export interface OnnxInfo {
  inputName: string;
  /** Input dims as stored (symbolic dims are null). */
  inputDims: (number | null)[];
  /** Layout of the image input, from the position of the 3-channel axis (or the caller). */
  inputLayout: Layout;
  /** Layout of rank-4 values inside the graph (Graft-exported graphs say so in metadata). */
  internalLayout: Layout;
  outputNames: string[];
}

const dimsOf = (vi: OnnxTypes.IValueInfoProto): (number | null)[] =>
  (vi.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimValue != null && !d.dimParam ? Number(d.dimValue) : null));

/** Decodes an ONNX file's bytes. */
export function decodeOnnx(bytes: Uint8Array): OnnxTypes.ModelProto {
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new GraftError('E_ONNX_READ', `Not a readable ONNX model (${(e as Error).message}).`, 'Pass a .onnx file saved by torch.onnx.export, tf2onnx or Graft.');
  }
}

/**
 * Reads the single image input of an ONNX model and its layout: NCHW when dim 1 is 3, NHWC when
 * dim 3 is 3; `layout` overrides (needed when both or neither are 3).
 *
 * @example
 * const info = onnxInfo(decodeOnnx(fs.readFileSync('resnet.onnx')));   // { inputLayout: 'NCHW', ... }
 */
export function onnxInfo(model: OnnxTypes.ModelProto, layout?: Layout): OnnxInfo {
  const g = model.graph;
  if (!g) throw new GraftError('E_ONNX_READ', 'The ONNX model has no graph.');
  // Old exporters list initializers among the inputs; they are weights, not feeds.
  const inits = new Set((g.initializer ?? []).map((t) => t.name));
  const feeds = (g.input ?? []).filter((i) => !inits.has(i.name));
  if (feeds.length !== 1) {
    throw new GraftError('E_ONNX_INPUT', `A frozen backbone must have exactly one input; this model has ${feeds.length}: ${feeds.map((f) => f.name).join(', ')}.`);
  }
  const inputName = feeds[0].name ?? '';
  const inputDims = dimsOf(feeds[0]);
  if (inputDims.length !== 4) {
    throw new GraftError('E_ONNX_INPUT', `A frozen backbone takes images (rank-4 input); input "${inputName}" has shape ${JSON.stringify(inputDims)}.`);
  }
  let inputLayout = layout;
  if (!inputLayout) {
    const cf = inputDims[1] === 3;
    const cl = inputDims[3] === 3;
    if (cf === cl) {
      throw new GraftError('E_ONNX_LAYOUT', `Cannot tell the layout of input "${inputName}" with shape ${JSON.stringify(inputDims)}: the 3-channel axis should be dim 1 (NCHW) or dim 3 (NHWC).`, "Pass inputLayout: 'NCHW' or 'NHWC'.");
    }
    inputLayout = cf ? 'NCHW' : 'NHWC';
  }
  const meta = (model.metadataProps ?? []).find((p) => p.key === 'graft.layout')?.value;
  const internalLayout: Layout = meta === 'NCHW' || meta === 'NHWC' ? meta : inputLayout;
  return { inputName, inputDims, inputLayout, internalLayout, outputNames: (g.output ?? []).map((o) => o.name ?? '') };
}

/** Every value a graph can be cut at: its input and all node outputs, in graph order. */
export function valueNames(model: OnnxTypes.ModelProto): string[] {
  const g = model.graph!;
  const inits = new Set((g.initializer ?? []).map((t) => t.name));
  const names = (g.input ?? []).map((i) => i.name ?? '').filter((n) => !inits.has(n));
  for (const n of g.node ?? []) for (const o of n.output ?? []) if (o) names.push(o);
  return names;
}

/**
 * Makes `output` the graph's only output and drops every node and weight it does not need.
 *
 * @example
 * const cut = cutOnnx(decodeOnnx(bytes), 'layer3/relu');   // bytes of a smaller model
 */
export function cutOnnx(model: OnnxTypes.ModelProto, output: string): Uint8Array {
  const g = model.graph!;
  const inits = new Set((g.initializer ?? []).map((t) => t.name ?? ''));
  const names = valueNames(model);
  if (!names.includes(output)) {
    const shown = names.length > 60 ? `${names.slice(0, 30).join(', ')}, … (${names.length - 30} more)` : names.join(', ');
    throw new GraftError('E_ONNX_OUTPUT', `Output must name a value of the ONNX graph. Received: "${output}".`, `Available names: ${shown}`);
  }
  // Walk back from the output: keep the producers of every needed value.
  const producer = new Map<string, OnnxTypes.INodeProto>();
  for (const n of g.node ?? []) for (const o of n.output ?? []) producer.set(o, n);
  const keep = new Set<OnnxTypes.INodeProto>();
  const needed = new Set<string>();
  const stack = [output];
  while (stack.length) {
    const v = stack.pop()!;
    if (needed.has(v)) continue;
    needed.add(v);
    const n = producer.get(v);
    if (n && !keep.has(n)) {
      keep.add(n);
      stack.push(...(n.input ?? []).filter(Boolean));
      // Subgraph attributes (If/Loop bodies) may read outer values; keep those too.
      for (const a of n.attribute ?? []) for (const sg of [a.g, ...(a.graphs ?? [])]) for (const sn of sg?.node ?? []) stack.push(...(sn.input ?? []).filter(Boolean));
    }
  }
  const known = [...(g.valueInfo ?? []), ...(g.output ?? [])].find((v) => v.name === output);
  const out: OnnxTypes.IValueInfoProto = known ?? { name: output, type: { tensorType: { elemType: 1 } } };
  const pruned = onnx.ModelProto.create({
    ...model,
    graph: onnx.GraphProto.create({
      ...g,
      node: (g.node ?? []).filter((n) => keep.has(n)),
      initializer: (g.initializer ?? []).filter((t) => needed.has(t.name ?? '')),
      input: (g.input ?? []).filter((i) => !inits.has(i.name ?? '') || needed.has(i.name ?? '')),
      valueInfo: (g.valueInfo ?? []).filter((v) => needed.has(v.name ?? '') && v.name !== output),
      output: [out],
    }),
  });
  return onnx.ModelProto.encode(pruned).finish();
}
