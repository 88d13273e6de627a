import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { datasetInfoEntry, shapeRecord } from '../src/service/jsonl-shapes.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { cli, cliAsync, HAVE_SHARED, SHARED_DATA, tempDir } from './helpers.js';

const dir = tempDir();

/** A small Chinese multi-party corpus written here (labels in the zh-erc format's own names). */
const ZH = [
  { id: 'z0', split: 'train', turns: [{ speaker: '小明', text: '我今天考试考了满分！', label: 'Happy' }, { speaker: '小红', text: '真的吗？太棒了，恭喜你！', label: 'Happy' }, { speaker: '小刚', text: '你们怎么都不叫我？', label: 'Anger' }] },
  { id: 'z1', split: 'train', turns: [{ speaker: '小红', text: '我的猫昨天走丢了。', label: 'Sad' }, { speaker: '小明', text: '别担心，我们一起去找。', label: 'Neutral' }, { speaker: '小刚', text: '外面好像有奇怪的声音。', label: 'Fear' }] },
  { id: 'z2', split: 'train', turns: [{ speaker: '小刚', text: '这饭菜太难吃了，恶心。', label: 'Disgust' }, { speaker: '小明', text: '什么？你居然会做饭？', label: 'Surprise' }, { speaker: '小红', text: '好吧，我们出去吃。', label: 'Neutral' }] },
];

/**
 * Reads an export the way LLaMA-Factory does: one json.loads per line of a UTF-8 file, then the columns its
 * dataset_info.json entry names (alpaca: prompt/query/response; sharegpt: the messages column with its role and
 * content tags, roles alternating user then assistant). Prints what a trainer would see, as JSON.
 */
const READER = `
import json, sys
path, info_path = sys.argv[1], sys.argv[2]
info = next(iter(json.load(open(info_path, encoding="utf-8")).values()))
raw = open(path, "rb").read()
rows = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
out = []
for row in rows:
    if info.get("formatting", "alpaca") == "alpaca":
        c = info["columns"]
        prompt = row[c["prompt"]] + ("\\n" + row[c["query"]] if row[c["query"]] else "")
        out.append({"user": prompt, "assistant": row[c["response"]]})
    else:
        tags = info["tags"]
        msgs = row[info["columns"]["messages"]]
        assert [m[tags["role_tag"]] for m in msgs] == [tags["user_tag"], tags["assistant_tag"]], msgs
        out.append({"user": msgs[0][tags["content_tag"]], "assistant": msgs[1][tags["content_tag"]]})
print(json.dumps({"rows": out, "escaped": b"\\\\u" in raw}, ensure_ascii=False))
`;

describe('trainer-ready export shapes', () => {
  it('each shape keeps the prompt and its answer; instructerc keeps the demonstrations', () => {
    const record = { id: 'c/d/1', input: '提示', target: 'Happy', demonstrations: [3, 4] };
    expect(shapeRecord('instructerc', record)).toEqual(record);
    expect(shapeRecord('alpaca', record)).toEqual({ id: 'c/d/1', instruction: '提示', input: '', output: 'Happy' });
    expect(shapeRecord('sharegpt', { ...record, target: null })).toEqual({ id: 'c/d/1', conversations: [{ from: 'human', value: '提示' }, { from: 'gpt', value: '' }] });
    expect(datasetInfoEntry('instructerc', 'x', 'x.jsonl')).toBeNull();
  });

  it('alpaca and sharegpt exports of a Chinese corpus load as LLaMA-Factory reads them, text unescaped', () => {
    const data = join(dir, 'zh.jsonl');
    writeFileSync(data, ZH.map((d) => JSON.stringify(d)).join('\n'));
    const index = join(dir, 'zh-index');
    expect(cli(['build', '--corpus', 'jsonl', '--corpus-name', 'zh', '--data', data, '--split', 'train', '--out', index]).code).toBe(0);
    const python = spawnSync('python3', ['--version']);
    for (const shape of ['alpaca', 'sharegpt']) {
      const out = join(dir, `zh-${shape}.jsonl`);
      const r = cli(['prompts', '--index', index, '--corpus', 'jsonl', '--corpus-name', 'zh', '--data', data, '--split', 'train', '--format', 'zh-erc', '-k', '2', '--allow-eval-demos', '--jsonl-shape', shape, '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      const infoFile = join(dir, `zh-${shape}.dataset_info.json`);
      expect(r.stderr).toContain(`wrote ${infoFile}`);
      const text = readFileSync(out, 'utf8');
      expect(text).toContain('现在，你是一名情感和情绪分析专家。');
      expect(text).not.toContain('\\u');
      const lines = text.trim().split('\n');
      expect(lines).toHaveLength(9);
      if (python.error) {
        console.warn('[erc-demos tests] python3 not found: export shapes checked in JavaScript only');
        continue;
      }
      const read = spawnSync('python3', ['-c', READER, out, infoFile], { encoding: 'utf8' });
      expect(read.status, read.stderr).toBe(0);
      const seen = JSON.parse(read.stdout) as { rows: { user: string; assistant: string }[]; escaped: boolean };
      expect(seen.escaped).toBe(false);
      expect(seen.rows).toHaveLength(9);
      expect(seen.rows[0].user).toContain('<A：我今天考试考了满分！>');
      expect(seen.rows.map((row) => row.assistant)).toEqual(ZH.flatMap((d) => d.turns.map((t) => t.label)));
    }
  });

  it.skipIf(!HAVE_SHARED)('messages and prompt-completion exports of MELD dev load as TRL and LLaMA-Factory read them; the first record byte-exact', async () => {
    const index = join(dir, 'sample-index');
    expect((await cliAsync(['build', '--corpus', 'jsonl', '--corpus-name', 'sample', '--data', SAMPLE_CORPUS, '--projection', 'none', '--out', index])).code).toBe(0);
    const system = 'You label the emotion of one utterance.';
    // From ../shared/docs/PROMPT-FORMATS.md (InstructERC main task, MELD label list, no demonstrations with k 0) and
    // the first row of MELD's dev_sent_emo.csv (Phoebe, sadness).
    const utterance = 'Oh my God, he’s lost it. He’s totally lost it.';
    const prompt = `Now you are expert of sentiment and emotional analysis. The following conversation noted between '### ###' involves several speakers. ### \\t Speaker_0:\\"${utterance}\\" ### Please select the emotional label of < Speaker_0:\\"${utterance}\\"> from <neutral, surprise, fear, sad, joyful, disgust, angry>:`;
    const golden = {
      messages: `{"id":"meld/dev/0/0","messages":[{"role":"system","content":"${system}"},{"role":"user","content":"${prompt}"},{"role":"assistant","content":"sad"}]}`,
      'prompt-completion': `{"id":"meld/dev/0/0","prompt":"${prompt}","completion":"sad"}`,
    };
    const n = readFileSync(join(SHARED_DATA, 'meld', 'dev_sent_emo.csv'), 'utf8').split('\n').filter((l) => /^\d+,/.test(l)).length;
    for (const shape of ['messages', 'prompt-completion'] as const) {
      const out = join(dir, `meld-dev-${shape}.jsonl`);
      const r = await cliAsync(['prompts', '--index', index, '--corpus', 'meld', '--data', join(SHARED_DATA, 'meld'), '--split', 'dev', '-k', '0', '--jsonl-shape', shape,
        ...(shape === 'messages' ? ['--system', system] : []), '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      const text = readFileSync(out, 'utf8');
      expect(text.split('\n')[0]).toBe(golden[shape]);
      const info = JSON.parse(readFileSync(join(dir, `meld-dev-${shape}.dataset_info.json`), 'utf8'));
      expect(Object.keys(info)).toEqual([`meld-dev-${shape}`]);
      // As TRL reads them: json per line; messages alternate roles ending with the assistant's answer (a system
      // message first where given); prompt/completion are two strings. And as LLaMA-Factory's entry names them.
      const read = spawnSync('python3', ['-c', `
import json, sys
shape, path, info_path = sys.argv[1:4]
info = next(iter(json.load(open(info_path, encoding="utf-8")).values()))
rows = [json.loads(l) for l in open(path, encoding="utf-8")]
for row in rows:
    if shape == "messages":
        tags = info["tags"]
        msgs = row[info["columns"]["messages"]]
        assert [m[tags["role_tag"]] for m in msgs] == [tags["system_tag"], tags["user_tag"], tags["assistant_tag"]], msgs
        assert all(isinstance(m[tags["content_tag"]], str) for m in msgs)
    else:
        assert set(row) == {"id", "prompt", "completion"} and isinstance(row["prompt"], str) and isinstance(row["completion"], str), row
        assert info["columns"] == {"prompt": "prompt", "response": "completion"}
print(len(rows))
`, shape, out, join(dir, `meld-dev-${shape}.dataset_info.json`)], { encoding: 'utf8' });
      if (read.error) {
        console.warn('[erc-demos tests] python3 not found: export shapes checked in JavaScript only');
        continue;
      }
      expect(read.status, read.stderr).toBe(0);
      expect(Number(read.stdout.trim())).toBe(n);
    }
    const refused = await cliAsync(['prompts', '--index', index, '--corpus', 'meld', '--data', join(SHARED_DATA, 'meld'), '--split', 'dev', '--jsonl-shape', 'alpaca', '--system', system, '--out', join(dir, 'never.jsonl')]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('invalid system: only the messages shape has a system message (this export is alpaca)');
  }, 400_000);
});
