import { join } from 'node:path';
import { FewShotPromptTemplate, PromptTemplate } from '@langchain/core/prompts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/corpus/load.js';
import { createEmbedder } from '../src/embed/create.js';
import { buildIndex } from '../src/index/build.js';
import { InputError } from '../src/errors.js';
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
  });

  it('addExample writes the example into the index, and a FewShotPromptTemplate selects it at once', async () => {
    const selector = new ErcDemosExampleSelector({ service, k: 1 });
    const template = new FewShotPromptTemplate({
      exampleSelector: selector,
      examplePrompt: PromptTemplate.fromTemplate('{speaker}: {text} -> {label}'),
      prefix: 'Label the emotion.',
      suffix: '{utterance} ->',
      inputVariables: ['utterance'],
    });
    const text = 'My parrot just learned to whistle my favourite song!';
    const before = service.writtenSummary('sample');
    // Before: not in the index (the nearest sample row is something else).
    expect(await template.format({ utterance: text })).not.toContain(`${text} -> joy`);
    expect((await selector.selectExamples({ utterance: text }))[0].text).not.toBe(text);

    const id = await selector.addExample({ text, label: 'joy', speaker: 'Zed' });
    expect(id).toMatch(/^langchain\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(service.writtenSummary('sample')).toMatchObject({ added: before.added + 1, rows: before.rows + 1 });
    expect(await template.format({ utterance: text })).toBe(`Label the emotion.\n\nZed: ${text} -> joy\n\n${text} ->`);
    // A paraphrase finds it too, with its dialogue id and an exact score for the same text.
    const [nearest] = await new ErcDemosExampleSelector({ service, k: 3 }).selectExamples({ utterance: 'my parrot learned to whistle my favorite song' });
    expect(nearest).toMatchObject({ text, label: 'joy', source_label: 'joy', speaker: 'Zed', corpus: 'sample', dialogue: id });
    expect((await selector.selectExamples({ utterance: text }))[0]).toMatchObject({ text, score: '1.000000', dialogue: id });

    // Two adds get two ids; the returned id is the one to relabel or remove it by.
    const second = await selector.addExample({ text: 'The spider is back in the bath and it is huge.', label: 'fear' });
    expect(second).not.toBe(id);
    expect((await selector.selectExamples({ utterance: 'The spider is back in the bath and it is huge.' }))[0]).toMatchObject({ label: 'fear', speaker: 'unknown', dialogue: second });
    await service.relabel({ dialogue: second, turn: 0, label: 'surprise' });
    expect((await selector.selectExamples({ utterance: 'The spider is back in the bath and it is huge.' }))[0]).toMatchObject({ label: 'surprise', dialogue: second });
    await service.removeDialogue({ dialogue: second });
    expect((await selector.selectExamples({ utterance: 'The spider is back in the bath and it is huge.' }))[0].dialogue).not.toBe(second);

    // Durable: a service opened afresh on the folder selects it.
    const reopened = await DemoService.load([join(dir, 'sample')]);
    try {
      const examples = await new ErcDemosExampleSelector({ service: reopened, k: 1, defaultSpeaker: 'nobody' }).selectExamples({ utterance: text });
      expect(examples[0]).toMatchObject({ text, label: 'joy', dialogue: id });
    } finally {
      await reopened.close();
    }
  });

  it('addExample: a given dialogue id and corpus, the index named, and bad examples refused naming the field, nothing written', async () => {
    const selector = new ErcDemosExampleSelector({ service, index: 'sample', strategy: 'per-label', labels: ['anger'], k: 1, defaultSpeaker: 'Reviewer' });
    const text = 'You parked in my spot again, for the third time this week!';
    expect(await selector.addExample({ text, label: 'anger', dialogue: 'reviewed/0001', corpus: 'sample', score: '0.5', source_label: 'x' })).toBe('reviewed/0001');
    expect((await selector.selectExamples({ utterance: text }))[0]).toMatchObject({ text, label: 'anger', speaker: 'Reviewer', dialogue: 'reviewed/0001' });

    const written = service.writtenSummary('sample');
    const refusal = async (example: Record<string, string>): Promise<InputError> => {
      const error: unknown = await selector.addExample(example).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(InputError);
      return error as InputError;
    };
    const badLabel = await refusal({ text: 'I am over the moon today.', label: 'bliss' });
    expect(badLabel).toMatchObject({ param: 'label', code: 'INPUT_INVALID' });
    expect(badLabel.message).toMatch(/^label: unknown label "bliss"/);
    expect(badLabel.message).toContain('ErcDemosExampleSelector.addExample');
    expect(await refusal({ text, label: 'anger', dialogue: 'reviewed/0001' })).toMatchObject({ param: 'dialogue', code: 'DIALOGUE_EXISTS' });
    expect((await refusal({ text: 'No label here.' })).message).toBe('label: is required: every added example has its gold label (ErcDemosExampleSelector.addExample)');
    expect(await refusal({ text: '', label: 'joy' })).toMatchObject({ param: 'text' });
    expect(await refusal({ text: '   ', label: 'joy' })).toMatchObject({ param: 'text', message: expect.stringMatching(/^text: must not be empty/) });
    expect(await refusal({ text: 'x'.repeat(2001), label: 'joy' })).toMatchObject({ param: 'text', message: expect.stringMatching(/at most 2000 characters/) });
    expect(await refusal({ text: 'Hello.', label: 'joy', corpus: 'meld' })).toMatchObject({ param: 'corpus' });
    expect(service.writtenSummary('sample')).toEqual(written);
    await expect(new ErcDemosExampleSelector({ service, index: 'nope' }).addExample({ text: 'Hello.', label: 'joy' })).rejects.toThrow(/index/);
    expect((await selector.selectExamples({ utterance: 'I am over the moon today.' }))[0]?.text).not.toBe('I am over the moon today.');
  });
});
