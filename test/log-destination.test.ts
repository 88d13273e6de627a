import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlockLogDestination } from '../src/server/log-destination.js';
import { createLogger } from '../src/server/logging.js';
import { tempDir } from './helpers.js';

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: number; msg: string });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** serve's request log goes out in blocks (issue 26: a write per request was a tenth of a GET's main-thread time). */
describe('BlockLogDestination', () => {
  const dir = tempDir('erc-logdest-');

  it('holds request lines up to flushMs, writes an error line at once with those before it', async () => {
    const file = join(dir, 'held.log');
    const fd = openSync(file, 'w');
    try {
      const logger = createLogger('info', new BlockLogDestination(150, fd));
      logger.info('one');
      logger.info('two');
      expect(readFileSync(file, 'utf8')).toBe('');
      await sleep(400);
      expect(lines(file).map((l) => l.msg)).toEqual(['one', 'two']);
      logger.info('three');
      logger.warn('four');
      expect(lines(file)).toHaveLength(2);
      logger.error('five');
      expect(lines(file).map((l) => [l.level, l.msg])).toEqual([[30, 'one'], [30, 'two'], [30, 'three'], [40, 'four'], [50, 'five']]);
    } finally {
      closeSync(fd);
    }
  });

  it('with flushMs 0 writes each line as it is made', () => {
    const file = join(dir, 'each.log');
    const fd = openSync(file, 'w');
    try {
      const logger = createLogger('info', new BlockLogDestination(0, fd));
      logger.info('at once');
      expect(lines(file).map((l) => l.msg)).toEqual(['at once']);
    } finally {
      closeSync(fd);
    }
  });

  it('writes every held line when the process exits, however soon, through a pipe', () => {
    const script = `
      import { BlockLogDestination } from './dist/server/log-destination.js';
      import { createLogger } from './dist/server/logging.js';
      const logger = createLogger('info', new BlockLogDestination(60000));
      for (let i = 0; i < 500; i++) logger.info({ i }, 'request completed');
      process.exit(0);`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    const got = out.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { i: number }).i);
    expect(got).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });
});
