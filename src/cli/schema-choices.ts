import { z } from 'zod';
import { trainOptionsSchema } from '../options.js';

/** Strip `.default()`, `.optional()`, `.nullable()` (any nesting) off a field's schema. */
function unwrapField(field: z.ZodType): z.ZodType {
  let s = field;
  while (s instanceof z.ZodDefault || s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
  return s;
}

/**
 * The allowed string values of a field, when it is a fixed set: `z.enum([...])`, a string
 * `z.literal`, or a union of string literals (each possibly with a default / optional).
 * `undefined` for any other kind of field.
 */
export function fieldChoices(field: z.ZodType): string[] | undefined {
  const s = unwrapField(field);
  if (s instanceof z.ZodEnum) return (s.options as unknown[]).map(String);
  const literals = (t: z.ZodType): unknown[] | undefined => (t instanceof z.ZodLiteral ? [...t.values] : undefined);
  if (s instanceof z.ZodLiteral) {
    const v = literals(s)!;
    return v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
  }
  if (s instanceof z.ZodUnion) {
    const out: unknown[] = [];
    for (const o of s.options as z.ZodType[]) {
      const v = literals(unwrapField(o));
      if (!v || !v.every((x) => typeof x === 'string')) return undefined;
      out.push(...v);
    }
    return out as string[];
  }
  return undefined;
}

export type TrainOptionKey = keyof typeof trainOptionsSchema.shape;

/**
 * The choices of a `graft train` flag, read from `trainOptionsSchema` so the CLI cannot drift
 * from it. Throws (at CLI construction) when the field is not a fixed set of strings.
 */
export function trainChoices(key: TrainOptionKey): string[] {
  const c = fieldChoices(trainOptionsSchema.shape[key] as z.ZodType);
  if (!c) throw new Error(`trainOptionsSchema.${key} is not an enum of strings; it cannot give a flag's choices`);
  return c;
}
