import { BaseExampleSelector } from '@langchain/core/example_selectors';
import type { Example } from '@langchain/core/prompts';
import { InputError, NotSupportedError } from './errors.js';
import type { Strategy } from './retrieve/select.js';
import { DemoQuerySchema } from './service/query.js';
import type { DemoService } from './service/service.js';
import { parseInput } from './service/validate.js';

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
    // The same validation as the HTTP and CLI doors: every option's rule names it.
    const query = parseInput(DemoQuerySchema, {
      utterance,
      ...(o.k !== undefined ? { k: String(o.k) } : {}),
      ...(o.strategy ? { strategy: o.strategy } : {}),
      ...(o.labels?.length ? { labels: o.labels.join(',') } : {}),
      ...(o.lambda !== undefined ? { lambda: String(o.lambda) } : {}),
      ...(o.index ? { index: o.index } : {}),
      ...(o.corpus?.length ? { corpus: o.corpus.join(',') } : {}),
      ...(o.dedup ? { dedup: 'true' } : {}),
    }, 'options');
    const { demonstrations } = await o.service.demonstrations(query);
    return demonstrations.map((d) => ({
      text: d.text, label: d.label ?? '', speaker: d.speaker, score: d.score.toFixed(6), corpus: d.corpus, source_label: d.source_label ?? '', dialogue: d.dialogue,
    }));
  }
}
