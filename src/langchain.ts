import { BaseExampleSelector } from '@langchain/core/example_selectors';
import type { Example } from '@langchain/core/prompts';
import { InputError, NotSupportedError } from './errors.js';
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
}

/**
 * LangChain.js's ExampleSelector over an erc-demos index, for a FewShotPromptTemplate: each selected example has
 * `text`, `label`, `speaker`, `score` (as text, since LangChain examples are string records), `corpus`,
 * `source_label` and `dialogue`. Indexes are built, not appended, so addExample is refused.
 */
export class ErcDemosExampleSelector extends BaseExampleSelector {
  private readonly options: ErcDemosExampleSelectorOptions;

  constructor(options: ErcDemosExampleSelectorOptions) {
    super();
    this.options = options;
  }

  async addExample(_example: Example): Promise<void> {
    throw new NotSupportedError('ErcDemosExampleSelector.addExample: an erc-demos index is built, not appended; add the example to the corpus and rebuild it with `erc-demos build`');
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
