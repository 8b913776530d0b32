import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateProbs } from '../../src/evaluate/metrics.js';
import { renderReport, type ReportData } from '../../src/evaluate/report/index.js';

// A 1×1 PNG (the bytes only need to travel, not decode).
const PNG = Uint8Array.from(Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64'));

function data(over: Partial<ReportData> = {}): ReportData {
  const classes = ['cat', '<script>alert("x")</script>', 'fish & chips'];
  const probs = [0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.6, 0.3, 0.1, 0.1, 0.2, 0.7, 0.1, 0.8, 0.1];
  const labels = [0, 1, 1, 2, 2];
  const evaluation = { split: 'validation', ...evaluateProbs(probs, labels, 3, { topK: [2] }) };
  return {
    model: { name: 'pets <v1>', backbone: 'mobilenet_v2', inputSize: [224, 224] },
    classes,
    dataset: { train: 40, val: 5, skipped: [{ path: 'train/cat/bad"<img>.jpg', reason: 'corrupt JPEG' }] },
    history: [
      { epoch: 0, loss: 1.0, acc: 0.5, valLoss: 0.9, valAcc: 0.6, lr: 1e-3, seconds: 1, stage: 'head' },
      { epoch: 1, loss: 0.7, acc: 0.7, valLoss: 0.8, valAcc: 0.6, lr: 1e-3, seconds: 1, stage: 'head' },
      { epoch: 0, loss: 0.5, acc: 0.8, valLoss: 0.7, valAcc: 0.8, lr: 1e-4, seconds: 1, stage: 'fine-tune' },
    ],
    evaluation,
    worst: evaluation.worst.map((w, i) => ({ ...w, name: `img${i}.png`, thumbnail: { data: PNG, mime: 'image/png' as const } })),
    notes: [{ title: 'Adaptation', text: 'AdaBN on 200 target images.\n\nSecond <b>paragraph</b>.', items: [['stage 1', 'head only']] }],
    ...over,
  };
}

test('the report has every section and embeds everything inline', () => {
  const html = renderReport(data());
  for (const id of ['summary', 'curves', 'confusion', 'per-class', 'most-confused', 'worst', 'notes']) assert.ok(html.includes(`<section id="${id}">`), `section ${id}`);
  assert.ok(html.startsWith('<!doctype html>'));
  assert.equal((html.match(/<svg /g) ?? []).length, 2, 'loss and accuracy charts');
  assert.equal((html.match(/src="data:image\/png;base64,/g) ?? []).length, 5, 'one thumbnail per worst example');
  assert.ok(html.includes('fine-tune'), 'stage boundary labelled');
  assert.ok(html.includes('60.0%'), 'accuracy 3/5 shown');
  assert.ok(html.includes('top-2 accuracy'));
  assert.ok(html.includes('AdaBN on 200 target images.'));
  assert.ok(!/https?:\/\//i.test(html), 'no http(s) references at all');
  assert.ok(!/<script|<link|@import|url\(/i.test(html), 'no scripts, stylesheets or fetched resources');
});

test('every user string is HTML-escaped', () => {
  const html = renderReport(data());
  assert.ok(!html.includes('<script>alert'), 'class name is not markup');
  assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'));
  assert.ok(html.includes('fish &amp; chips'));
  assert.ok(html.includes('pets &lt;v1&gt;'));
  assert.ok(html.includes('bad&quot;&lt;img&gt;.jpg'));
  assert.ok(html.includes('Second &lt;b&gt;paragraph&lt;/b&gt;.'));
  assert.ok(!html.includes('<b>paragraph</b>'));
});

test('optional parts degrade gracefully; sample reports say so; foreign mime types are dropped', () => {
  const base = data();
  const html = renderReport({ ...base, history: undefined, worst: undefined, notes: undefined, dataset: { train: 40 }, sample: true });
  assert.ok(html.includes('No training history was recorded.'));
  assert.ok(html.includes('No notes.'));
  assert.ok(html.includes('SAMPLE REPORT'));
  assert.ok(html.includes('no image'), 'worst examples fall back to evaluation.worst without thumbnails');
  const evil = renderReport({ ...base, worst: [{ ...base.evaluation.worst[0], thumbnail: { data: PNG, mime: 'text/html' as never } }] });
  assert.ok(!evil.includes('data:text/html'));
  assert.ok(!renderReport(base).includes('SAMPLE REPORT'));
});
