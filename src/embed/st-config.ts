import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ModelFolderError } from '../errors.js';
import { ModelFileRecorder, withoutBom } from './fingerprint.js';

export const POOLING_MODES = ['cls', 'mean', 'max', 'lasttoken', 'weightedmean', 'mean_sqrt_len_tokens'] as const;
export type PoolingMode = (typeof POOLING_MODES)[number];

/** How a sentence-transformer turns token vectors into one sentence vector, as its model folder says. */
export interface SentenceTransformerConfig {
  pooling: PoolingMode;
  normalize: boolean;
  /** Tokens read per sentence, special tokens included (sentence-transformers' max_seq_length). */
  maxSeqLength?: number;
  /** Prepended to every text (the model's default prompt, e.g. "query: "); "" for none. */
  prompt: string;
  /** Whether the prompt's tokens take part in pooling (sentence-transformers' include_prompt). */
  includePrompt: boolean;
  /** Where this came from: the folder's sentence-transformers files, or the defaults for a folder without them. */
  source: 'sentence-transformers' | 'defaults';
}

/** A model folder that cannot be used (defined with the other errors in errors.ts). */
export { ModelFolderError };

/** modules.json: the modules in order, each a folder path and a class name. */
export const ModulesSchema = z.array(z.object({ path: z.string(), type: z.string() }));
/** Both generations of 1_Pooling/config.json: pooling_mode_* booleans (classic), or one pooling_mode (v6). */
const PoolingSchema = z.object({
  pooling_mode: z.string().optional(),
  pooling_mode_cls_token: z.boolean().optional(),
  pooling_mode_mean_tokens: z.boolean().optional(),
  pooling_mode_max_tokens: z.boolean().optional(),
  pooling_mode_lasttoken: z.boolean().optional(),
  pooling_mode_weightedmean_tokens: z.boolean().optional(),
  pooling_mode_mean_sqrt_len_tokens: z.boolean().optional(),
  include_prompt: z.boolean().optional(),
});
const CLASSIC_MODES: Record<string, PoolingMode> = {
  pooling_mode_cls_token: 'cls', pooling_mode_mean_tokens: 'mean', pooling_mode_max_tokens: 'max',
  pooling_mode_lasttoken: 'lasttoken', pooling_mode_weightedmean_tokens: 'weightedmean', pooling_mode_mean_sqrt_len_tokens: 'mean_sqrt_len_tokens',
};
/** Today's behaviour for a plain transformers folder: mean pooling, L2-normalised, the tokenizer's own length. */
export const FOLDER_DEFAULTS: SentenceTransformerConfig = { pooling: 'mean', normalize: true, prompt: '', includePrompt: true, source: 'defaults' };

/**
 * A JSON file of the folder (undefined where it has none), a leading byte-order mark allowed; recorded for the
 * embedder's fingerprint when a recorder is given. Invalid JSON is an error naming the file.
 */
export function readFolderJson(dir: string, file: string, recorder?: ModelFileRecorder): unknown {
  const path = join(dir, file);
  if (!existsSync(path)) return undefined;
  const bytes = recorder ? recorder.read(file) : readFileSync(path);
  try {
    return JSON.parse(withoutBom(bytes.toString('utf8')));
  } catch (error) {
    throw new ModelFolderError(dir, `${file} is not valid JSON: ${(error as Error).message}`);
  }
}

function poolingMode(dir: string, file: string, raw: unknown): { mode: PoolingMode; includePrompt: boolean } {
  const parsed = PoolingSchema.safeParse(raw);
  if (!parsed.success) throw new ModelFolderError(dir, `${file} is not a pooling configuration`);
  const p = parsed.data;
  const named = p.pooling_mode === 'mean_sqrt_len' ? 'mean_sqrt_len_tokens' : p.pooling_mode;
  const modes = named !== undefined ? [named] : Object.entries(CLASSIC_MODES).filter(([key]) => p[key as keyof typeof p] === true).map(([, mode]) => mode);
  if (modes.length !== 1 || !(POOLING_MODES as readonly string[]).includes(modes[0])) {
    throw new ModelFolderError(dir, `${file}: pooling ${modes.length ? modes.join(' + ') : 'none'} is not supported (one of ${POOLING_MODES.join(', ')})`);
  }
  return { mode: modes[0] as PoolingMode, includePrompt: p.include_prompt ?? true };
}

/** The length a model reads: sentence_bert_config.json's max_seq_length, else tokenizer_config.json's model_max_length. */
function maxSeqLength(dir: string, readJson: (dir: string, file: string) => unknown): number | undefined {
  const bert = readJson(dir, 'sentence_bert_config.json') as { max_seq_length?: unknown } | undefined;
  if (typeof bert?.max_seq_length === 'number') return bert.max_seq_length;
  const tokenizer = readJson(dir, 'tokenizer_config.json') as { model_max_length?: unknown } | undefined;
  // Tokenizers without a limit store a huge sentinel (1e30): no limit of their own.
  if (typeof tokenizer?.model_max_length === 'number' && tokenizer.model_max_length < 1e6) return tokenizer.model_max_length;
  return undefined;
}

/**
 * Reads a sentence-transformers model folder, either generation: modules.json (Transformer, Pooling, optional
 * Normalize; module types named `sentence_transformers.models.Pooling` or, since v6, by their full module path),
 * the pooling folder's config, the length, and config_sentence_transformers.json's default prompt. A folder
 * without modules.json gets FOLDER_DEFAULTS. A module this project cannot run (Dense, a second Transformer...) is
 * an error naming it rather than a silently different vector. `promptOverride` (`--query-prompt`) replaces the
 * default prompt: the name of one of the folder's prompts, else the text itself ("" for none). Every file read is
 * hashed into `recorder` where one is given (the embedder's fingerprint).
 */
export function readSentenceTransformerConfig(dir: string, promptOverride?: string, recorder?: ModelFileRecorder): SentenceTransformerConfig {
  const readJson = (folder: string, file: string) => readFolderJson(folder, file, recorder);
  const st = (readJson(dir, 'config_sentence_transformers.json') ?? {}) as { prompts?: Record<string, string>; default_prompt_name?: string | null };
  const override = promptOverride === undefined ? {} : { prompt: st.prompts?.[promptOverride] ?? promptOverride };
  const modulesRaw = readJson(dir, 'modules.json');
  if (modulesRaw === undefined) return { ...FOLDER_DEFAULTS, maxSeqLength: maxSeqLength(dir, readJson), ...override };
  const modules = ModulesSchema.safeParse(modulesRaw);
  if (!modules.success) throw new ModelFolderError(dir, 'modules.json is not a list of {path, type}');
  const kind = (type: string) => type.split('.').pop()!;
  const unsupported = modules.data.filter((m, i) => !(i === 0 && kind(m.type) === 'Transformer') && !['Pooling', 'Normalize'].includes(kind(m.type)));
  if (unsupported.length > 0) {
    throw new ModelFolderError(dir, `modules.json has ${unsupported.map((m) => kind(m.type)).join(', ')}: only Transformer, Pooling and Normalize are supported`);
  }
  const poolingModule = modules.data.find((m) => kind(m.type) === 'Pooling');
  if (!poolingModule) throw new ModelFolderError(dir, 'modules.json has no Pooling module');
  const poolingFile = join(poolingModule.path, 'config.json');
  const { mode, includePrompt } = poolingMode(dir, poolingFile, readJson(dir, poolingFile));
  const prompt = st.default_prompt_name ? (st.prompts?.[st.default_prompt_name] ?? '') : '';
  return {
    pooling: mode, normalize: modules.data.some((m) => kind(m.type) === 'Normalize'), maxSeqLength: maxSeqLength(dir, readJson), prompt, includePrompt,
    source: 'sentence-transformers', ...override,
  };
}

/** One line for the build's output: what was read, so a user sees which vectors they get. */
export function describeConfig(c: SentenceTransformerConfig): string {
  const from = c.source === 'defaults' ? 'no sentence-transformers files: defaults' : 'sentence-transformers config';
  return `${from}: ${c.pooling} pooling${c.normalize ? ', normalized' : ''}${c.maxSeqLength ? `, ${c.maxSeqLength} tokens` : ''}` +
    `${c.prompt ? `, prompt ${JSON.stringify(c.prompt)}${c.includePrompt ? '' : ' (not pooled)'}` : ''}`;
}
