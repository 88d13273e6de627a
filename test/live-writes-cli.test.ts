import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { cliAsync, tempDir } from './helpers.js';

/** The CLI's write commands as a user runs them: add, relabel, remove, compact, and a build that would lose writes. */
describe('erc-demos add / relabel / remove / compact', () => {
  const dir = tempDir();
  const index = join(dir, 'idx');
  const extra = join(dir, 'extra.jsonl');
  const build = ['build', '--corpus', 'jsonl', '--data', SAMPLE_CORPUS, '--corpus-name', 'sample', '--split', 'train', '--out', index];

  beforeAll(async () => {
    expect((await cliAsync(build)).code).toBe(0);
    writeFileSync(extra, `${JSON.stringify({ id: 'n1', split: 'train', turns: [
      { speaker: 'A', text: 'The kettle sang the national anthem this morning.', label: 'surprise' },
      { speaker: 'B', text: 'That is the worst thing I have heard all week.', label: 'disgust' },
    ] })}\n`);
  }, 180_000);

  it('add reads a corpus as build does (ids named as build names them) and answers one line per write', async () => {
    const added = await cliAsync(['add', '--index', index, '--corpus', 'jsonl', '--data', extra, '--corpus-name', 'sample']);
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(added.stdout.trim())).toMatchObject({ seq: 1, dialogues: 1, utterances: 2 });
    const again = await cliAsync(['add', '--index', index, '--corpus', 'jsonl', '--data', extra, '--corpus-name', 'sample']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/dialogues\.0\.id: the index already holds a dialogue "train\/n1"/);
    const query = await cliAsync(['query', '--index', index, '-k', '1', 'The kettle sang the national anthem']);
    expect(JSON.parse(query.stdout).demonstrations[0]).toMatchObject({ dialogue: 'train/n1', turn: 0, label: 'surprise' });
  });

  it('relabel and remove: exit 0 with the write, exit 2 naming what is not there', async () => {
    const relabel = await cliAsync(['relabel', '--index', index, '--dialogue', 'train/n1', '--turn', '1', '--label', 'anger']);
    expect(relabel.code, relabel.stderr).toBe(0);
    expect(JSON.parse(relabel.stdout)).toMatchObject({ seq: 2, labels: ['anger'] });
    expect((await cliAsync(['relabel', '--index', index, '--dialogue', 'train/n1', '--turn', '5', '--label', 'anger'])).stderr).toMatch(/turn: dialogue "train\/n1" has no turn 5/);
    const removed = await cliAsync(['remove', '--index', index, '--dialogue', 'train/s03']);
    expect(JSON.parse(removed.stdout)).toMatchObject({ seq: 3, removed: 4 });
    const gone = await cliAsync(['remove', '--index', index, '--dialogue', 'train/s03']);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toMatch(/dialogue: the index holds no dialogue "train\/s03"/);
  });

  it('a build over an index with writes is refused (they would be lost); compact folds them in; then the build may replace it', async () => {
    const refused = await cliAsync(build);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/holds 3 writes made since its build .*`erc-demos compact --index/);
    const compacted = await cliAsync(['compact', '--index', index]);
    expect(compacted.code, compacted.stderr).toBe(0);
    expect(JSON.parse(compacted.stdout)).toMatchObject({ count: 98, carried: 0 });
    const query = await cliAsync(['query', '--index', index, '-k', '1', 'That is the worst thing I have heard all week.']);
    expect(JSON.parse(query.stdout).demonstrations[0]).toMatchObject({ dialogue: 'train/n1', label: 'anger' });
    expect((await cliAsync(build)).code).toBe(0);
  });
});
