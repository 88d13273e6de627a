import { spawnSync } from 'node:child_process';
import { copyFileSync, linkSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { cliAsync, tempDir } from './helpers.js';

/**
 * `prompts --out` replaces only a regular file (or nothing), never one of its own inputs, and says so before any
 * work; `--out -` writes to standard output. Each case was a hostile-round defect: a device or a link at --out
 * became a regular file, and --out on the corpus replaced the corpus (issue 23, items 1, 2, 13).
 */
describe('prompts --out: nothing replaced that is not ours', () => {
  const dir = tempDir('erc-export-out-');
  const index = join(dir, 'index');
  const corpus = join(dir, 'corpus.jsonl');
  const prompts = (out: string, extra: string[] = []) =>
    cliAsync(['prompts', '--index', index, '--corpus', 'jsonl', '--corpus-name', 'sample', '--data', corpus, '--split', 'train', '-k', '1', '--out', out, ...extra]);
  const isRoot = process.getuid?.() === 0;

  beforeAll(async () => {
    copyFileSync(SAMPLE_CORPUS, corpus);
    const built = await cliAsync(['build', '--corpus', 'jsonl', '--data', corpus, '--corpus-name', 'sample', '--split', 'train', '--projection', 'none', '--out', index]);
    expect(built.code, built.stderr).toBe(0);
  });

  it('a device at --out (a copy of /dev/null) is refused before any work and stays a device', async () => {
    if (!isRoot) return void console.warn('mknod needs root; skipped');
    const device = join(dir, 'null-copy');
    const made = spawnSync('mknod', [device, 'c', '1', '3']);
    if (made.status !== 0) return void console.warn(`mknod failed (${made.stderr}); skipped`);
    const r = await prompts(device);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`refusing to write --out ${device}: it is a character device`);
    expect(r.stderr).not.toMatch(/prompts \(instructerc\)/); // refused before the export started
    expect(lstatSync(device).isCharacterDevice()).toBe(true);
  });

  it('a named pipe and a directory at --out are refused, and so are an empty path and a dangling link', async () => {
    const fifo = join(dir, 'pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const piped = await prompts(fifo);
    expect(piped.code).toBe(1);
    expect(piped.stderr).toContain('it is a named pipe');
    expect(lstatSync(fifo).isFIFO()).toBe(true);

    const folder = join(dir, 'a-folder');
    mkdirSync(folder);
    const started = performance.now();
    const foldered = await prompts(folder);
    expect(foldered.code).toBe(1);
    expect(foldered.stderr).toContain(`refusing to write --out ${folder}: it is a directory`);
    expect(foldered.stderr).not.toMatch(/prompts \(instructerc\)/);
    expect(performance.now() - started).toBeLessThan(60_000);

    const empty = await prompts('');
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('refusing to write --out : it is empty');
    expect(empty.stderr).not.toMatch(/prompts \(instructerc\)/);

    const dangling = join(dir, 'dangling');
    symlinkSync(join(dir, 'nowhere', 'x.jsonl'), dangling);
    const r = await prompts(dangling);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is a symbolic link to nothing');
    expect(lstatSync(dangling).isSymbolicLink()).toBe(true);
  });

  it('a link to a device is refused; a link to a regular file writes that file and stays a link', async () => {
    const toNull = join(dir, 'to-null');
    symlinkSync('/dev/null', toNull);
    const refused = await prompts(toNull);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('it is a character device');
    expect(readlinkSync(toNull)).toBe('/dev/null');

    const real = join(dir, 'real.jsonl');
    writeFileSync(real, 'old\n');
    const link = join(dir, 'link.jsonl');
    symlinkSync(real, link);
    const r = await prompts(link);
    expect(r.code, r.stderr).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    const lines = readFileSync(real, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(100);
    expect(JSON.parse(lines[0])).toHaveProperty('input');
  });

  it('--out on its own input (the corpus, by its path, a link or a hard link) is refused and the corpus is kept', async () => {
    const before = readFileSync(corpus);
    const same = await prompts(corpus);
    expect(same.code).toBe(1);
    expect(same.stderr).toContain(`refusing to write --out ${corpus}: it is an input, which this export reads`);
    const hard = join(dir, 'hard.jsonl');
    linkSync(corpus, hard);
    const viaHardLink = await prompts(hard);
    expect(viaHardLink.code).toBe(1);
    expect(viaHardLink.stderr).toContain(`the same file as ${corpus}`);
    const soft = join(dir, 'soft.jsonl');
    symlinkSync(corpus, soft);
    expect((await prompts(soft)).code).toBe(1);
    // A file of the index is an input too.
    expect((await prompts(join(index, 'manifest.json'))).code).toBe(1);
    expect(readFileSync(corpus).equals(before)).toBe(true);
    expect((await cliAsync(['query', '--index', index, 'hello'])).code).toBe(0);
  });

  it('--out - writes the lines to standard output and nothing else there', async () => {
    const r = await prompts('-');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(100);
    for (const line of lines) expect(JSON.parse(line)).toHaveProperty('demonstrations');
  });

  it("the dataset_info entry beside an export follows the same rules: a directory in its place is refused before the export", async () => {
    const out = join(dir, 'alpaca.jsonl');
    mkdirSync(join(dir, 'alpaca.dataset_info.json'));
    const r = await prompts(out, ['--jsonl-shape', 'alpaca']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('alpaca.dataset_info.json: it is a directory');
    expect(() => statSync(out)).toThrow();
  });

  it('a full disk names the file and leaves the old export whole', async () => {
    if (!isRoot) return void console.warn('mounting a small tmpfs needs root; skipped');
    const small = join(dir, 'small');
    mkdirSync(small);
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', small]).status !== 0) return void console.warn('cannot mount a tmpfs here; skipped');
    try {
      const out = join(small, 'prompts.jsonl');
      writeFileSync(out, 'old export\n');
      const r = await prompts(out);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`could not write ${out} (ENOSPC`);
      expect(readFileSync(out, 'utf8')).toBe('old export\n');
    } finally {
      spawnSync('umount', [small]);
    }
  });
});
