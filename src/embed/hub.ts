import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { DataType } from '@huggingface/transformers';
import { EmbedderError } from '../errors.js';
import { DEFAULT_GRAPHS, DTYPE_GRAPHS } from './graphs.js';
import { sessionOptions } from './ort.js';
import { ModulesSchema } from './st-config.js';

export type Transformers = typeof import('@huggingface/transformers');

/**
 * Hugging Face's transformers.js, imported on first use: a process that embeds with USE-lite only never loads it
 * (nor sharp, the image library it imports at load whatever the model).
 */
export const loadTransformers = (): Promise<Transformers> => import('@huggingface/transformers');

/** Where downloaded model folders are kept by default (the setting ERC_DEMOS_MODEL_CACHE overrides it). */
export const DEFAULT_MODEL_CACHE = join(homedir(), '.cache', 'erc-demos', 'models');

/** sentence-transformers' own files, which the library does not read: fetched beside what it downloads. */
const ST_FILES = ['modules.json', 'sentence_bert_config.json', 'config_sentence_transformers.json'];

export interface DownloadOptions {
  cacheDir?: string;
  /** The hub's address; default the library's (https://huggingface.co/). */
  host?: string;
  /** The graph wanted (`--dtype`); default fp32, the graph sentence-transformers loads. */
  dtype?: string;
}

/** The library's address of one file of a hub model (env.remoteHost + env.remotePathTemplate + file). */
function fileUrl(hf: Transformers, id: string, file: string): string {
  const host = hf.env.remoteHost.endsWith('/') ? hf.env.remoteHost : `${hf.env.remoteHost}/`;
  const path = hf.env.remotePathTemplate.replaceAll('{model}', id).replaceAll('{revision}', 'main');
  return `${host}${path.endsWith('/') ? path : `${path}/`}${file}`;
}

/** A sentence-transformers file the library has no loader for, into the library's cache layout; false if the hub has none. */
async function fetchStFile(hf: Transformers, id: string, file: string, folder: string): Promise<boolean> {
  const url = fileUrl(hf, id, file);
  const response = await hf.env.fetch(url) as Response;
  if (response.status === 404) return false;
  if (!response.ok) throw new EmbedderError('MODEL_UNAVAILABLE', `downloading ${id}: HTTP ${response.status} for ${url}`);
  const path = join(folder, file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.part`, Buffer.from(await response.arrayBuffer()));
  renameSync(`${path}.part`, path);
  return true;
}

/**
 * A hub model id as a local folder (ERC_DEMOS_ALLOW_REMOTE_MODELS=1 only), so that a hub id is read exactly as a
 * folder is, by every worker thread, without the network. The library downloads into its cache (`<cache>/<id>/`, its
 * file-system cache layout): config.json, the tokenizer, and the graph of the dtype asked for with its external data
 * (model.onnx_data) where the hub has one; sentence-transformers' files (modules.json, the pooling configuration,
 * the length and prompts), which the library does not read, are fetched from the same host into the same folder.
 * A marker per dtype records a complete download: later runs read the cache and reach no network.
 */
export async function downloadModel(id: string, options: DownloadOptions = {}): Promise<string> {
  const cacheDir = options.cacheDir || DEFAULT_MODEL_CACHE;
  const dtype = options.dtype ?? 'fp32';
  const folder = join(cacheDir, ...id.split('/'));
  const marker = join(folder, `.complete-${dtype}`);
  if (existsSync(marker)) return folder;
  const hf = await loadTransformers();
  if (options.host) hf.env.remoteHost = options.host;
  const from = { cache_dir: cacheDir };
  try {
    await hf.AutoConfig.from_pretrained(id, from);
    await hf.AutoTokenizer.from_pretrained(id, from);
    for (const file of ST_FILES) await fetchStFile(hf, id, file, folder);
    const modules = ModulesSchema.safeParse(existsSync(join(folder, 'modules.json')) ? JSON.parse(readFileSync(join(folder, 'modules.json'), 'utf8')) : []);
    for (const m of modules.success ? modules.data : []) if (m.type.endsWith('Pooling')) await fetchStFile(hf, id, `${m.path}/config.json`, folder);
    // The default graph where sentence-transformers looks for it: onnx/model.onnx, else model.onnx at the top.
    const graph = dtype === 'fp32'
      ? (await hf.ModelRegistry.get_file_metadata(id, DEFAULT_GRAPHS[0], from)).exists ? DEFAULT_GRAPHS[0] : DEFAULT_GRAPHS[1]
      : DTYPE_GRAPHS[dtype] ?? DEFAULT_GRAPHS[0];
    const external = (await hf.ModelRegistry.get_file_metadata(id, `${graph}_data`, from)).exists;
    // Loading the model is how the library downloads its graph; the session it opens on the way is closed at once.
    const model = await hf.AutoModel.from_pretrained(id, {
      ...from, subfolder: dirname(graph) === '.' ? '' : dirname(graph), dtype: dtype as DataType, device: 'cpu',
      ...(external ? { use_external_data_format: true } : {}), session_options: sessionOptions(1),
    });
    await model.dispose();
  } catch (error) {
    if (error instanceof EmbedderError) throw error;
    throw new EmbedderError('MODEL_UNAVAILABLE', `downloading ${id} from ${hf.env.remoteHost}: ${(error as Error).message}`);
  }
  writeFileSync(marker, new Date().toISOString());
  return folder;
}
