import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { runFaults } from '../scripts/reliability/live-faults.js';
import { cliAsync, tempDir } from './helpers.js';

/**
 * The kill -9 fault run of `npm run live` (scripts/reliability/live-faults.ts), a few kills only: writers killed at
 * random points (a random time, right after a write begins, during start), through DemoService in a child process and
 * through a real `serve` over HTTP; after each kill the index opens with every checksum, every acknowledged write is
 * there in full, the write in flight is there whole or not at all, the log's head is right and SQLite finds the log
 * intact. The full run (>= 50 kills) is `npm run live -- --only faults`; its figures are in docs/RELIABILITY.md.
 */
describe('live writes survive kill -9', () => {
  const dir = tempDir('erc-live-faults-');
  const index = join(dir, 'sample');
  const children = new Set<ChildProcess>();

  beforeAll(async () => {
    const built = await cliAsync(['build', '--corpus', 'jsonl', '--data', SAMPLE_CORPUS, '--corpus-name', 'sample', '--split', 'train', '--out', index]);
    expect(built.code, built.stderr).toBe(0);
  });
  afterAll(() => {
    for (const child of children) child.kill('SIGKILL');
  });

  it('4 kills: nothing acknowledged lost, the index always opens', async () => {
    const report = await runFaults({ index, kills: 4, seed: 24, groupSize: 2, maxKillMs: 800, children });
    const problems = report.rounds.flatMap((r) => r.problems.map((p) => `kill ${r.round} (${r.door}, ${r.point}): ${p}`));
    expect(problems).toEqual([]);
    expect(report).toMatchObject({ kills: 4, lost_writes: 0, failed_opens: 0, inconsistent: 0, log_integrity_failures: 0 });
    expect(report.by_door).toEqual({ service: 2, http: 2 });
    expect(report.acked_writes).toBeGreaterThan(0);
  }, 110_000);
});
