#!/usr/bin/env node
// Bundles graft studio's browser app (studio/ui, Preact + signals) with esbuild into
// dist/studio-ui/, the static files the server ships. Runs in `npm run build` / `prepare`;
// the studio's browser test calls buildStudio() itself so it always tests the current source.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export async function buildStudio({ out = path.join(ROOT, 'dist', 'studio-ui'), minify = true } = {}) {
  fs.mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [path.join(ROOT, 'studio', 'ui', 'main.tsx')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify,
    sourcemap: true,
    outfile: path.join(out, 'app.js'),
    logLevel: 'warning',
  });
  for (const f of ['index.html', 'style.css']) fs.copyFileSync(path.join(ROOT, 'studio', 'ui', f), path.join(out, f));
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildStudio();
  console.log(`graft studio UI → ${path.relative(ROOT, out)}`);
}
