// The package build: TypeScript to dist/ (declarations and source maps), then the files tsc does not emit: the
// embedder's and the write log's worker threads (plain JavaScript) and the web page. Run by `npm run build`, hence by
// `npm ci` (prepare) and before the tests (vitest globalSetup), so the CLI the tests spawn is never stale.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
for (const file of ['embed/embed-worker.mjs', 'writes/commit-worker.mjs', 'server/page']) {
  mkdirSync(dirname(join(root, 'dist', file)), { recursive: true });
  cpSync(join(root, 'src', file), join(root, 'dist', file), { recursive: true });
}
