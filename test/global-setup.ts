import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * The CLI the tests spawn runs the compiled dist/: build it first (incremental, seconds when up to date). A type error
 * is reported but does not stop the tests (tsc still emits; `npm run typecheck` is the check that fails on it).
 */
export default function setup(): void {
  try {
    execFileSync(process.execPath, [join(__dirname, '..', 'scripts', 'build-dist.mjs')], { stdio: 'inherit' });
  } catch {
    console.warn('[erc-demos tests] the package build reported errors (above); the tests run on what it emitted');
  }
}
