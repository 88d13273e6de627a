/**
 * The shapes a prompt export can take, one JSON object per line, for the trainers users load them into:
 * `instructerc` ({id, input, target, demonstrations}: InstructERC's own keys), `alpaca` ({instruction, input,
 * output}: LLaMA-Factory's default and the Alpaca-style seed templates), `sharegpt` ({conversations: [{from, value}]}:
 * LLaMA-Factory's sharegpt formatting, FastChat). Each line keeps `id`, which the trainers ignore and users join on.
 * Pure: records in, objects out.
 */
export const JSONL_SHAPES = ['instructerc', 'alpaca', 'sharegpt'] as const;
export type JsonlShape = (typeof JSONL_SHAPES)[number];

/** One exported prompt, whatever the shape. */
export interface PromptRecord {
  id: string;
  input: string;
  /** The expected answer, or null where the split has no gold label. */
  target: string | null;
  /** Row ids of the demonstrations in the index. */
  demonstrations: number[];
}

export function shapeRecord(shape: JsonlShape, r: PromptRecord): Record<string, unknown> {
  switch (shape) {
    case 'instructerc':
      return { id: r.id, input: r.input, target: r.target, demonstrations: r.demonstrations };
    case 'alpaca':
      // The whole prompt is the instruction; nothing else goes in `input` (LLaMA-Factory joins them with a newline).
      return { id: r.id, instruction: r.input, input: '', output: r.target ?? '' };
    case 'sharegpt':
      return { id: r.id, conversations: [{ from: 'human', value: r.input }, { from: 'gpt', value: r.target ?? '' }] };
  }
}

/**
 * The entry LLaMA-Factory's data/dataset_info.json needs to load an export of this shape, keyed by dataset name
 * (https://github.com/hiyouga/LLaMA-Factory/blob/main/data/README.md); null for the instructerc shape, which
 * InstructERC's own scripts read.
 */
export function datasetInfoEntry(shape: JsonlShape, name: string, fileName: string): Record<string, unknown> | null {
  if (shape === 'alpaca') {
    return { [name]: { file_name: fileName, columns: { prompt: 'instruction', query: 'input', response: 'output' } } };
  }
  if (shape === 'sharegpt') {
    return {
      [name]: {
        file_name: fileName,
        formatting: 'sharegpt',
        columns: { messages: 'conversations' },
        tags: { role_tag: 'from', content_tag: 'value', user_tag: 'human', assistant_tag: 'gpt' },
      },
    };
  }
  return null;
}
