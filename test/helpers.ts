import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll } from 'vitest';
import type { Dialogue } from '../src/corpus/types.js';

/** ../shared/data beside the checkout; tests that need it are skipped, saying why, when it is absent. */
export const SHARED_DATA = resolve(process.env.ERC_DEMOS_DATA_DIR ?? join(__dirname, '..', '..', 'shared', 'data'));
export const HAVE_SHARED = existsSync(join(SHARED_DATA, 'meld', 'train_sent_emo.csv'));
export const SHARED_SKIP_REASON = `needs the shared corpora at ${SHARED_DATA} (set ERC_DEMOS_DATA_DIR); skipped`;
if (!HAVE_SHARED) console.warn(`[erc-demos tests] ${SHARED_SKIP_REASON}`);

export const TINY_BERT = resolve(__dirname, 'fixtures', 'tiny-bert');

/** sentence-transformers fixtures, made by scripts/fixtures/make_st_fixtures.py with the library itself; reference.json holds encode(). */
export const ST_FIXTURES = resolve(__dirname, 'fixtures', 'st');

/** Cosine similarity of two vectors, in double precision. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

/** A temporary directory removed after the file's tests. */
export function tempDir(prefix = 'erc-demos-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function utteranceCount(dialogues: readonly Dialogue[]): number {
  return dialogues.reduce((n, d) => n + d.turns.length, 0);
}

/** The erc-demos command, as a user runs it. */
export const BIN = resolve(__dirname, '..', 'bin', 'erc-demos.mjs');

/** Runs erc-demos to completion as a separate process (killed after `timeoutMs`: code null). */
export function cli(args: readonly string[], timeoutMs = 120_000): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * erc-demos as a separate process, awaited without blocking this worker's event loop (a long spawnSync starves
 * vitest's own messages and it reports a timeout).
 */
export function cliAsync(args: readonly string[], timeoutMs = 300_000, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('close', (code) => resolveRun({ code, stdout, stderr }));
  });
}
