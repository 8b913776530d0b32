import { onnx, type OnnxTypes } from './graph.js';
import { decodeOnnx } from './backbone.js';

/** How one graph's output feeds the next graph's input. */
export interface Link {
  /** Insert a Transpose with this permutation between the two graphs (layout change). */
  transpose?: number[];
}

/**
 * Chain ONNX models into one: model i's (single) output feeds model i+1's (single, non-weight)
 * input, optionally through a Transpose. Every name is prefixed per model so graphs cannot
 * collide; opsets are merged (highest version per domain). Used to ship a user's ONNX backbone,
 * Graft's preprocessing and a trained head as one `model.onnx`.
 *
 * @example
 * const bytes = chainOnnx([pre, backbone, head], [{ transpose: [0, 3, 1, 2] }, { transpose: [0, 2, 3, 1] }]);
 */
export function chainOnnx(models: Uint8Array[], links: Link[] = [], names: { input?: string; output?: string } = {}): Uint8Array {
  const protos = models.map((m) => decodeOnnx(m));
  const nodes: OnnxTypes.INodeProto[] = [];
  const inits: OnnxTypes.ITensorProto[] = [];
  const opsets = new Map<string, number>();
  let irVersion = 0;
  let graphInput: OnnxTypes.IValueInfoProto | undefined;
  let prevOut = '';
  let lastOut: OnnxTypes.IValueInfoProto | undefined;
  protos.forEach((m, i) => {
    irVersion = Math.max(irVersion, Number(m.irVersion ?? 0));
    for (const o of m.opsetImport ?? []) {
      const d = o.domain ?? '';
      opsets.set(d, Math.max(opsets.get(d) ?? 0, Number(o.version ?? 0)));
    }
    const g = m.graph!;
    const weights = new Set((g.initializer ?? []).map((t) => t.name ?? ''));
    const inputs = (g.input ?? []).filter((v) => !weights.has(v.name ?? ''));
    if (inputs.length !== 1 || (g.output ?? []).length !== 1) {
      throw new Error(`chainOnnx: model ${i} must have one data input and one output (has ${inputs.length} and ${(g.output ?? []).length}).`);
    }
    const pfx = `m${i}/`;
    const inName = inputs[0]!.name ?? '';
    const rename = (v: string) => (v === '' ? '' : v === inName && i > 0 ? prevOut : `${pfx}${v}`);
    if (i === 0) graphInput = { ...inputs[0]!, name: names.input ?? inName };
    const rename0 = (v: string) => (i === 0 && v === inName ? graphInput!.name! : rename(v));
    if (i > 0 && links[i - 1]?.transpose) {
      const t = `${pfx}link_transpose`;
      nodes.push(onnx.NodeProto.create({ opType: 'Transpose', input: [prevOut], output: [t], name: t, attribute: [{ name: 'perm', type: 7, ints: links[i - 1]!.transpose! }] }));
      prevOut = t;
    }
    for (const n of g.node ?? []) {
      nodes.push(
        onnx.NodeProto.create({
          ...n,
          name: `${pfx}${n.name ?? ''}`,
          input: (n.input ?? []).map(rename0),
          output: (n.output ?? []).map(rename0),
        }),
      );
    }
    for (const t of g.initializer ?? []) inits.push(onnx.TensorProto.create({ ...t, name: `${pfx}${t.name}` }));
    const out = g.output![0]!;
    prevOut = rename0(out.name ?? '');
    lastOut = out;
  });
  const outName = names.output ?? 'output';
  nodes.push(onnx.NodeProto.create({ opType: 'Identity', input: [prevOut], output: [outName], name: 'graft/output' }));
  const model = onnx.ModelProto.create({
    irVersion,
    producerName: 'graft',
    opsetImport: [...opsets].map(([domain, version]) => ({ domain, version })),
    graph: onnx.GraphProto.create({
      name: 'graft_pipeline',
      node: nodes,
      initializer: inits,
      input: [graphInput!],
      output: [{ ...lastOut!, name: outName }],
    }),
  });
  return onnx.ModelProto.encode(model).finish();
}
