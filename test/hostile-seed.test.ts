import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/corpus/load.js';
import { checkSampleSeed, parseFraction, sampleDialogues } from '../src/corpus/sample.js';
import { InputError } from '../src/errors.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { MAX_SEED, seeded, seededShuffle } from '../src/random.js';
import { cli, tempDir } from './helpers.js';

/**
 * Issue 23, item 15: a seed of 2^32 or more gave the sample of a smaller one (mulberry32 kept `seed >>> 0`) while the
 * manifest recorded the seed given. Seeds are now whole numbers from 0 to 2^32 - 1, and any other is refused naming
 * `seed` wherever a sample is drawn.
 */
describe('sample seeds beyond the generator (issue 23, item 15)', () => {
  const { dialogues } = loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' });
  const spec = (seed: number) => ({ fraction: parseFraction('1/2'), mix: 'total' as const, seed });

  it('takes every seed from 0 to 2^32 - 1, and they differ at the top', () => {
    expect(MAX_SEED).toBe(2 ** 32 - 1);
    const top = sampleDialogues(dialogues, spec(MAX_SEED)).record;
    expect(top.seed).toBe(MAX_SEED);
    expect(sampleDialogues(dialogues, spec(0)).record.seed).toBe(0);
    const ids = Array.from({ length: 50 }, (_, i) => `id${i}`);
    expect(seededShuffle(ids, MAX_SEED)).not.toEqual(seededShuffle(ids, MAX_SEED - 1));
  });

  for (const seed of [2 ** 32, 2 ** 32 + 1, 2 ** 40, Number.MAX_SAFE_INTEGER, -1, 1.5, Number.NaN]) {
    it(`refuses seed ${seed} naming seed, rather than sampling as another seed`, () => {
      let error: unknown;
      try {
        sampleDialogues(dialogues, spec(seed));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InputError);
      expect((error as InputError).param).toBe('seed');
      expect((error as Error).message).toContain('from 0 to 4294967295');
      expect(() => checkSampleSeed(seed)).toThrow(InputError);
      // The generator itself never wraps one seed onto another.
      expect(() => seeded(seed)).toThrow(RangeError);
    });
  }

  it('the CLI build refuses --seed 4294967296 naming seed, and writes no index', () => {
    const dir = tempDir();
    const out = join(dir, 'idx');
    const r = cli(['build', '--corpus', 'jsonl', '--data', SAMPLE_CORPUS, '--corpus-name', 'sample', '--fraction', '1/2', '--seed', '4294967296', '--projection', 'none', '--out', out]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/seed: 4294967296 is not a seed: give a whole number from 0 to 4294967295/);
    expect(existsSync(out)).toBe(false);
  });
});
