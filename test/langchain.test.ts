import { join } from 'node:path';
import { FewShotPromptTemplate, PromptTemplate } from '@langchain/core/prompts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/corpus/load.js';
import { createEmbedder } from '../src/embed/create.js';
import { buildIndex } from '../src/index/build.js';
import { ErcDemosExampleSelector } from '../src/langchain.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { DemoService } from '../src/service/service.js';
import { tempDir } from './helpers.js';

describe('ErcDemosExampleSelector in a real @langchain/core FewShotPromptTemplate', () => {
  const dir = tempDir();
  let service: DemoService;

  beforeAll(async () => {
    const embedder = await createEmbedder('use-lite');
    const sample = loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' });
    await buildIndex({ dialogues: sample.dialogues, corpus: 'sample', splits: ['train'], embedder, out: join(dir, 'sample'), name: 'sample', projection: { kind: 'none' } });
    await embedder.close?.();
    service = await DemoService.load([join(dir, 'sample')]);
  });
  afterAll(() => service?.close());

  it('renders the most similar demonstrations with their labels, as the service returns them', async () => {
    const selector = new ErcDemosExampleSelector({ service, k: 3 });
    const template = new FewShotPromptTemplate({
      exampleSelector: selector,
      examplePrompt: PromptTemplate.fromTemplate('{text} -> {label}'),
      prefix: 'Label the emotion of the last utterance.',
      suffix: '{utterance} ->',
      inputVariables: ['utterance'],
    });
    const utterance = 'Guess what? I got the job!';
    const prompt = await template.format({ utterance });
    const expected = await service.demonstrations({ utterance, k: 3, strategy: 'topk' });
    expect(expected.demonstrations[0]).toMatchObject({ text: utterance, label: 'joy' });
    expect(prompt).toBe(['Label the emotion of the last utterance.', ...expected.demonstrations.map((d) => `${d.text} -> ${d.label}`), `${utterance} ->`].join('\n\n'));
    const examples = await selector.selectExamples({ utterance });
    expect(examples[0]).toMatchObject({ text: utterance, label: 'joy', score: '1.000000', corpus: 'sample' });
    expect(Object.keys(examples[0]).sort()).toEqual(['corpus', 'dialogue', 'label', 'score', 'source_label', 'speaker', 'text']);
  });

  it('per-label selection, another input key, and errors that name what is wrong', async () => {
    const selector = new ErcDemosExampleSelector({ service, strategy: 'per-label', labels: ['joy', 'fear'], k: 1, inputKey: 'query' });
    const examples = await selector.selectExamples({ query: 'spider in the bath' });
    expect(examples.map((e) => e.label).sort()).toEqual(['fear', 'joy']);
    await expect(selector.selectExamples({ utterance: 'x' })).rejects.toThrow('query: the input variable "query" holding the utterance is missing (inputs: utterance)');
    await expect(new ErcDemosExampleSelector({ service, k: 0 }).selectExamples({ utterance: 'x' })).rejects.toThrow(/^k: must be between 1 and 100/);
    await expect(new ErcDemosExampleSelector({ service, labels: ['bliss'] }).selectExamples({ utterance: 'x' })).rejects.toThrow(/labels: unknown label "bliss"/);
    await expect(selector.addExample({ text: 'a', label: 'joy' })).rejects.toThrow(/built, not appended/);
  });
});
