import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/corpus/load.js';
import { loneSurrogateAt } from '../src/corpus/text.js';
import { CorpusFormatError } from '../src/corpus/types.js';
import { cli, tempDir } from './helpers.js';

/**
 * Issue 23, item 11: a JSON-escaped lone surrogate ("\ud800") in a JSONL corpus was stored as U+FFFD, silently, while
 * docs/CORPUS-FORMAT.md says nothing is repaired silently (invalid UTF-8 bytes are an error naming file and line).
 * The escape is now the same kind of error, naming file, line and field.
 */
describe('lone surrogates in JSONL escapes (issue 23, item 11)', () => {
  const dir = tempDir();
  const line = (turns: object[], id = 'd') => JSON.stringify({ id, turns });
  const ok = { speaker: 'A', text: 'fine', label: 'joy' };

  /** Writes the lines, a doubled backslash before `u` (JSON.stringify of the tests' `\\ud800`) made a JSON escape again. */
  function write(name: string, lines: string[]): string {
    const file = join(dir, name);
    writeFileSync(file, `${lines.map((l) => l.replaceAll('\\\\u', '\\u')).join('\n')}\n`);
    return file;
  }

  it('finds lone surrogates, not pairs', () => {
    expect(loneSurrogateAt('plain')).toBe(-1);
    expect(loneSurrogateAt('a \ud83d\ude00 b')).toBe(-1);
    expect(loneSurrogateAt('a \ud800 b')).toBe(2);
    expect(loneSurrogateAt('a \udc00\ud800')).toBe(2);
    expect(loneSurrogateAt('end \ud83d')).toBe(4);
    expect(loneSurrogateAt('\ude00\ud83d')).toBe(0);
  });

  it('loads an escaped surrogate pair as its character', () => {
    const file = write('pair.jsonl', [line([{ ...ok, text: 'smile \\ud83d\\ude00 ok' }])]);
    const { dialogues } = loadCorpus({ format: 'jsonl', data: file, splits: ['train'] });
    expect(dialogues[0].turns[0].text).toBe('smile \u{1f600} ok');
  });

  for (const [field, turn, path] of [
    ['text', { ...ok, text: 'bad \\ud800 here' }, 'turns.1.text'],
    ['speaker', { ...ok, speaker: 'A\\udfff' }, 'turns.1.speaker'],
    ['label', { ...ok, label: 'joy\\ud800' }, 'turns.1.label'],
    ['labels', { ...ok, label: undefined, labels: ['joy', 'x\\udc00'] }, 'turns.1.labels.1'],
    ['turn id', { ...ok, id: 'u\\ud800' }, 'turns.1.id'],
  ] as const) {
    it(`refuses a lone surrogate in a turn's ${field}, naming file, line and field`, () => {
      const bad = line([ok, turn], 'd2');
      const file = write(`${field.replace(' ', '-')}.jsonl`, [line([ok], 'd1'), bad]);
      let error: unknown;
      try {
        loadCorpus({ format: 'jsonl', data: file, splits: ['train'] });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CorpusFormatError);
      const message = (error as Error).message;
      expect(message).toContain(`${file}:2: ${path}: holds a lone surrogate \\u`);
      expect(message).toContain('not repaired');
    });
  }

  it("refuses one in a dialogue's id or split", () => {
    const file = write('dialogue.jsonl', ['{"id": "d\\ud800", "turns": [{"speaker": "A", "text": "hi", "label": "joy"}]}']);
    expect(() => loadCorpus({ format: 'jsonl', data: file, splits: ['train'] })).toThrow(`${file}:1: id: holds a lone surrogate \\ud800 at character 2`);
    const split = write('split.jsonl', ['{"id": "d", "split": "tr\\udbff", "turns": [{"speaker": "A", "text": "hi", "label": "joy"}]}']);
    expect(() => loadCorpus({ format: 'jsonl', data: split, splits: ['train'] })).toThrow(`${split}:1: split: holds a lone surrogate \\udbff`);
  });

  it('the CLI build stops with the error before writing an index', () => {
    const file = write('cli.jsonl', [line([ok], 'd1'), '{"id": "d2", "turns": [{"speaker": "A", "text": "bad \\ud800 here", "label": "joy"}]}']);
    const out = join(dir, 'idx');
    const r = cli(['build', '--corpus', 'jsonl', '--data', file, '--projection', 'none', '--out', out]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${file}:2: turns.0.text: holds a lone surrogate \\ud800 at character 5`);
    expect(existsSync(out)).toBe(false);
  });
});
