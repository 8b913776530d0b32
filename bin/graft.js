#!/usr/bin/env node
// The `graft` command: the compiled CLI in dist/ (built by `npm install` through `prepare`).
import('../dist/cli/main.js').catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
