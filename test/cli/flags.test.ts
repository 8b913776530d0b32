import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import type { Command, Option } from 'commander';
import { buildCli } from '../../src/cli/main.js';
import { trainOptionsSchema } from '../../src/options.js';
import { fieldChoices } from '../../src/cli/schema-choices.js';

// Schema keys that are deliberately not flags of addTrainOptions. `out` is a flag, but train
// adds it itself (`--out <dir>`, required) and lr-find passes a placeholder.
const NOT_FLAGS: Record<string, string> = { data: 'the positional <data> argument' };
// Flags that are deliberately not schema keys.
const NOT_SCHEMA: Record<string, string> = { config: 'reads options from a file; merged before validation' };

const schemaKeys = Object.keys(trainOptionsSchema.shape).sort();
const field = (k: string) => (trainOptionsSchema.shape as Record<string, z.ZodType>)[k]!;

function command(name: string): Command {
  const cmd = buildCli().commands.find((c) => c.name() === name);
  assert.ok(cmd, `no \`${name}\` command`);
  return cmd;
}
const byAttr = (cmd: Command): Map<string, Option> => new Map(cmd.options.map((o) => [o.attributeName(), o]));
/** The field with defaults / optional stripped, to ask what kind of value it takes. */
function inner(t: z.ZodType): z.ZodType {
  while (t instanceof z.ZodDefault || t instanceof z.ZodOptional || t instanceof z.ZodNullable) t = t.unwrap() as z.ZodType;
  return t;
}

test('graft train has exactly one flag per schema key (and no stray flags)', () => {
  const flags = byAttr(command('train'));
  assert.equal(flags.size, command('train').options.length, 'two flags share an attribute name');
  const expectedFlags = schemaKeys.filter((k) => !(k in NOT_FLAGS)).concat(Object.keys(NOT_SCHEMA)).sort();
  assert.deepEqual([...flags.keys()].sort(), expectedFlags);
  // The exceptions themselves must stay true, so the lists cannot hide a drift.
  for (const k of Object.keys(NOT_FLAGS)) assert.ok(schemaKeys.includes(k), `NOT_FLAGS.${k} is no longer a schema key`);
  for (const k of Object.keys(NOT_SCHEMA)) assert.ok(!schemaKeys.includes(k), `NOT_SCHEMA.${k} is a schema key now: drop it from the list`);
  assert.ok(flags.get('out')?.mandatory, '--out is required on train');
});

test('each train flag takes the kind of value its schema field does', () => {
  const flags = byAttr(command('train'));
  for (const k of schemaKeys.filter((k) => flags.has(k))) {
    const o = flags.get(k)!;
    const takesValue = o.required || o.optional;
    if (inner(field(k)) instanceof z.ZodBoolean) assert.ok(!takesValue, `--${o.name()} is a boolean switch (schema ${k}: boolean)`);
    else assert.ok(takesValue, `--${o.name()} takes a value (schema ${k} is not boolean)`);
  }
  // --no-x flags must be the negation of a field whose default is true, and vice versa.
  for (const k of schemaKeys.filter((k) => flags.has(k))) {
    const o = flags.get(k)!;
    if (!(inner(field(k)) instanceof z.ZodBoolean)) continue;
    const def = trainOptionsSchema.shape[k as keyof typeof trainOptionsSchema.shape].safeParse(undefined);
    const defaultTrue = def.success && def.data === true;
    assert.equal(o.negate, defaultTrue, `schema ${k} defaults to ${String(def.success && def.data)}: flag should be --${defaultTrue ? 'no-' : ''}<name>`);
  }
});

test('each train flag\'s choices are the schema enum\'s options', () => {
  const flags = byAttr(command('train'));
  let enums = 0;
  for (const k of schemaKeys.filter((k) => flags.has(k))) {
    const o = flags.get(k)!;
    const choices = fieldChoices(field(k));
    if (choices) {
      enums++;
      assert.deepEqual(o.argChoices, choices, `--${o.name()} choices`);
    } else {
      assert.equal(o.argChoices, undefined, `--${o.name()} has choices but schema ${k} is no enum`);
    }
  }
  assert.ok(enums >= 7, `expected the schema's enums to be found (found ${enums})`);
  assert.deepEqual(flags.get('optimizer')!.argChoices, trainOptionsSchema.shape.optimizer.unwrap().options);
  assert.deepEqual(flags.get('preprocess')!.argChoices, ['caffe', 'tf', 'torch', 'raw01', 'none']);
});

test('graft lr-find takes every train flag too', () => {
  const train = [...byAttr(command('train')).keys()].filter((k) => k !== 'out');
  const lr = byAttr(command('lr-find'));
  for (const k of train) assert.ok(lr.has(k), `lr-find lacks the train flag for ${k}`);
});

test('parsed flags (new ones included) reach the schema under its own key names', async () => {
  const { collectTrainOptions } = await import('../../src/cli/train.js');
  const { parseTrainOptions } = await import('../../src/options.js');
  const cmd = command('train');
  cmd.exitOverride();
  cmd.action(() => {});
  cmd.parse(['d', '--out', 'o', '--preprocess', 'tf', '--fine-tune-lr-factor', '0.25', '--optimizer', 'sgd', '--no-onnx'], { from: 'user' });
  const o = parseTrainOptions(collectTrainOptions('d', cmd.opts()), 'test');
  assert.equal(o.preprocess, 'tf');
  assert.equal(o.fineTuneLrFactor, 0.25);
  assert.equal(o.optimizer, 'sgd');
  assert.equal(o.onnx, false);
  assert.equal(o.report, true);
  const bad = command('train').exitOverride().configureOutput({ writeErr: () => {} }).action(() => {});
  assert.throws(() => bad.parse(['d', '--out', 'o', '--preprocess', 'bgr'], { from: 'user' }), /'bgr' is invalid/);
});
