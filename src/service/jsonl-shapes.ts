import { InputError } from '../errors.js';

/**
 * The shapes a prompt export can take, one JSON object per line, for the trainers users load them into:
 * `instructerc` ({id, input, target, demonstrations}: InstructERC's own keys), `alpaca` ({instruction, input,
 * output}: LLaMA-Factory's default and the Alpaca-style seed templates), `sharegpt` ({conversations: [{from, value}]}:
 * LLaMA-Factory's sharegpt formatting, FastChat), `messages` ({messages: [{role, content}]}: chat models' shape, read
 * by TRL's SFTTrainer, OpenAI-style fine-tuning, ms-swift, Axolotl's chat_template and LLaMA-Factory with role and
 * content tags), `prompt-completion` ({prompt, completion}: TRL's prompt-completion datasets). Each line keeps `id`,
 * which the trainers ignore and users join on. Pure: records in, objects out.
 */
export const JSONL_SHAPES = ['instructerc', 'alpaca', 'sharegpt', 'messages', 'prompt-completion'] as const;
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

/** Shape options: a system message (the `messages` shape only). */
export interface ShapeOptions {
  system?: string;
}

/** Which shapes take which options, checked once before an export starts. */
export function checkShapeOptions(shape: JsonlShape, options: ShapeOptions): void {
  if (options.system !== undefined && shape !== 'messages') throw new InputError('system', `only the messages shape has a system message (this export is ${shape})`);
}

export function shapeRecord(shape: JsonlShape, r: PromptRecord, options: ShapeOptions = {}): Record<string, unknown> {
  switch (shape) {
    case 'instructerc':
      return { id: r.id, input: r.input, target: r.target, demonstrations: r.demonstrations };
    case 'alpaca':
      // The whole prompt is the instruction; nothing else goes in `input` (LLaMA-Factory joins them with a newline).
      return { id: r.id, instruction: r.input, input: '', output: r.target ?? '' };
    case 'sharegpt':
      return { id: r.id, conversations: [{ from: 'human', value: r.input }, { from: 'gpt', value: r.target ?? '' }] };
    case 'messages':
      return {
        id: r.id,
        messages: [
          ...(options.system !== undefined ? [{ role: 'system', content: options.system }] : []),
          { role: 'user', content: r.input },
          { role: 'assistant', content: r.target ?? '' },
        ],
      };
    case 'prompt-completion':
      return { id: r.id, prompt: r.input, completion: r.target ?? '' };
  }
}

/**
 * The entry LLaMA-Factory's data/dataset_info.json needs to load an export of this shape, keyed by dataset name
 * (https://github.com/hiyouga/LLaMA-Factory/blob/main/data/README.md); null for the instructerc shape, which
 * InstructERC's own scripts read.
 */
export function datasetInfoEntry(shape: JsonlShape, name: string, fileName: string): Record<string, unknown> | null {
  const entry = DATASET_INFO[shape];
  return entry ? { [name]: { file_name: fileName, ...entry } } : null;
}

/** Per shape, the dataset_info.json entry's fields besides file_name. */
const DATASET_INFO: Record<JsonlShape, Record<string, unknown> | null> = {
  instructerc: null,
  alpaca: { columns: { prompt: 'instruction', query: 'input', response: 'output' } },
  sharegpt: { formatting: 'sharegpt', columns: { messages: 'conversations' }, tags: { role_tag: 'from', content_tag: 'value', user_tag: 'human', assistant_tag: 'gpt' } },
  // OpenAI-style messages: LLaMA-Factory reads them through its sharegpt formatting with these tags (data/README.md).
  messages: { formatting: 'sharegpt', columns: { messages: 'messages' }, tags: { role_tag: 'role', content_tag: 'content', user_tag: 'user', assistant_tag: 'assistant', system_tag: 'system' } },
  'prompt-completion': { columns: { prompt: 'prompt', response: 'completion' } },
};
