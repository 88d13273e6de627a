import { randomUUID } from 'node:crypto';
import { BaseExampleSelector } from '@langchain/core/example_selectors';
import type { Example } from '@langchain/core/prompts';
import { InputError } from './errors.js';
import type { Strategy } from './retrieve/select.js';
import type { DemoQueryOptions, DemoService } from './service/service.js';

/** What the selector asks the service for: a DemoService and the query options every selection uses. */
export interface ErcDemosExampleSelectorOptions {
  service: DemoService;
  /** Demonstrations (per label with `per-label`); the service's default when absent. */
  k?: number;
  strategy?: Strategy;
  labels?: readonly string[];
  /** mmr only: relevance against diversity, 0..1. */
  lambda?: number;
  /** Index name, where the service serves several. */
  index?: string;
  /** Only from these corpora (a pooled index). */
  corpus?: readonly string[];
  dedup?: boolean;
  /** The input variable holding the utterance to find demonstrations for (default `utterance`). */
  inputKey?: string;
  /** addExample: the speaker of an example that names none (default `unknown`). */
  defaultSpeaker?: string;
}

/** An example's fields that addExample reads, as the index names them in a write's turn (the rest are ignored). */
const EXAMPLE_FIELDS: Readonly<Record<string, string>> = { id: 'dialogue', corpus: 'corpus', split: 'split', text: 'text', label: 'label', labels: 'label', speaker: 'speaker' };

/** A write's error named by the example's field: `dialogues.0.turns.0.label` is `label`, `dialogues.0.id` is `dialogue`. */
function asExampleError(error: unknown): unknown {
  if (!(error instanceof InputError)) return error;
  const match = /^(?:body\.)?dialogues\.0\.(?:turns\.0\.)?(\w+)$/.exec(error.param);
  const field = match ? EXAMPLE_FIELDS[match[1]] : undefined;
  if (field === undefined) return error;
  const reason = error.message.startsWith(`${error.param}: `) ? error.message.slice(error.param.length + 2) : error.message;
  return new InputError(field, `${reason} (ErcDemosExampleSelector.addExample)`, error.code);
}

/**
 * LangChain.js's ExampleSelector over an erc-demos index, for a FewShotPromptTemplate: each selected example has
 * `text`, `label`, `speaker`, `score` (as text, since LangChain examples are string records), `corpus`,
 * `source_label` and `dialogue`. addExample writes an example into the index (DemoService.addDialogues), selectable at once.
 */
export class ErcDemosExampleSelector extends BaseExampleSelector {
  private readonly options: ErcDemosExampleSelectorOptions;

  constructor(options: ErcDemosExampleSelectorOptions) {
    super();
    this.options = options;
  }

  /**
   * Adds an example to the index (the selector's `index`, else the service's one) as a one-turn dialogue, durably,
   * through DemoService.addDialogues: `text` and `label` (in the index's label space, or in the corpus' own names)
   * are required; `speaker` (default `defaultSpeaker`, `unknown`), `dialogue` (its id; default `langchain/<uuid>`) and
   * `corpus` (a pooled index's source; default the index's) are optional, an empty string counting as absent. Other
   * fields (a selected example's `score`, `source_label`) are ignored. It is selectable as soon as this resolves.
   * Resolves to the dialogue's id as the index names it (the `dialogue` of the example when selected, the id to
   * relabel or remove it by); a bad example is an InputError naming the example's field (`label: unknown label ...`),
   * an id the index holds one with code DIALOGUE_EXISTS, and nothing is written.
   */
  async addExample(example: Example): Promise<string> {
    const o = this.options;
    const given = (name: string): string | undefined => {
      const value: unknown = example[name];
      if (value === undefined || value === null || value === '') return undefined;
      if (typeof value !== 'string') throw new InputError(name, `must be a string, not ${typeof value} (ErcDemosExampleSelector.addExample)`);
      return value;
    };
    const text = given('text');
    if (text === undefined) throw new InputError('text', 'is required: the utterance to add (ErcDemosExampleSelector.addExample)');
    const label = given('label');
    if (label === undefined) throw new InputError('label', 'is required: every added example has its gold label (ErcDemosExampleSelector.addExample)');
    const corpus = given('corpus');
    const dialogue = { id: given('dialogue') ?? `langchain/${randomUUID()}`, ...(corpus !== undefined ? { corpus } : {}), turns: [{ speaker: given('speaker') ?? o.defaultSpeaker ?? 'unknown', text, label }] };
    try {
      const { dialogues } = await o.service.addDialogues({ ...(o.index !== undefined ? { index: o.index } : {}), dialogues: [dialogue] });
      return dialogues[0].id;
    } catch (error) {
      throw asExampleError(error);
    }
  }

  async selectExamples(inputVariables: Example): Promise<Example[]> {
    const o = this.options;
    const key = o.inputKey ?? 'utterance';
    const utterance = inputVariables[key];
    if (typeof utterance !== 'string') throw new InputError(key, `the input variable "${key}" holding the utterance is missing (inputs: ${Object.keys(inputVariables).join(', ') || 'none'})`);
    // The values as given: DemoService checks them by the HTTP door's rules (query.ts), each error naming its option.
    // An empty list means no restriction, as an absent one.
    const list = (value: readonly string[] | undefined) => (Array.isArray(value) && value.length === 0 ? undefined : (value as string[] | undefined));
    const query: DemoQueryOptions = { utterance };
    if (o.k !== undefined) query.k = o.k;
    if (o.strategy !== undefined) query.strategy = o.strategy;
    const labels = list(o.labels);
    if (labels !== undefined) query.labels = labels;
    if (o.lambda !== undefined) query.lambda = o.lambda;
    if (o.index !== undefined) query.index = o.index;
    const corpus = list(o.corpus);
    if (corpus !== undefined) query.corpus = corpus;
    if (o.dedup !== undefined) query.dedup = o.dedup;
    const { demonstrations } = await o.service.demonstrations(query);
    return demonstrations.map((d) => ({
      text: d.text, label: d.label ?? '', speaker: d.speaker, score: d.score.toFixed(6), corpus: d.corpus, source_label: d.source_label ?? '', dialogue: d.dialogue,
    }));
  }
}
