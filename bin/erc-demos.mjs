#!/usr/bin/env node
// The erc-demos command: the compiled CLI (dist/, built by `npm run build`, which `npm ci` and the tests run).
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error('erc-demos: dist/ is missing; run `npm run build` (npm ci runs it) in the checkout');
  process.exit(1);
}
await import(main.href);
