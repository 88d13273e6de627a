import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { EmbedderError } from '../errors.js';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { ModulesSchema } from './st-config.js';

/** Where downloaded model folders are kept by default (the setting ERC_DEMOS_MODEL_CACHE overrides it). */
export const DEFAULT_MODEL_CACHE = join(homedir(), '.cache', 'erc-demos', 'models');

const HUB = 'https://huggingface.co';
/** What a model folder needs; the graph is the first of ONNX_FILES the repository has. */
const REQUIRED = ['tokenizer.json', 'tokenizer_config.json', 'config.json'];
const OPTIONAL = ['modules.json', 'sentence_bert_config.json', 'config_sentence_transformers.json'];
const ONNX_FILES = ['onnx/model.onnx', 'model.onnx', 'onnx/model_quantized.onnx'];

async function fetchFile(id: string, file: string, folder: string): Promise<boolean> {
  const response = await fetch(`${HUB}/${id}/resolve/main/${file}`);
  if (response.status === 404) return false;
  if (!response.ok) throw new EmbedderError('MODEL_UNAVAILABLE', `downloading ${id}/${file}: HTTP ${response.status}`);
  const path = join(folder, file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.part`, Buffer.from(await response.arrayBuffer()));
  renameSync(`${path}.part`, path);
  return true;
}

/**
 * A hub model id as a local folder (ERC_DEMOS_ALLOW_REMOTE_MODELS=1 only): the tokenizer, config, ONNX graph and
 * sentence-transformers files, downloaded once into the cache, so that a hub id is read exactly as a folder is.
 * Not exercised by the tests (no network here); a folder fetched by hand works the same.
 */
export async function downloadModel(id: string, cacheDir = DEFAULT_MODEL_CACHE): Promise<string> {
  const folder = join(cacheDir, id.replace(/[^\w.-]+/g, '--'));
  if (existsSync(join(folder, '.complete'))) return folder;
  for (const file of REQUIRED) if (!(await fetchFile(id, file, folder))) throw new EmbedderError('MODEL_UNAVAILABLE', `model ${id} has no ${file} on the hub`);
  let graph = false;
  for (const file of ONNX_FILES) if (!graph) graph = await fetchFile(id, file, folder);
  if (!graph) throw new EmbedderError('MODEL_UNAVAILABLE', `model ${id} has no ONNX graph on the hub (${ONNX_FILES.join(', ')}); use an ONNX export such as Xenova/<model>`);
  for (const file of OPTIONAL) await fetchFile(id, file, folder);
  const modules = ModulesSchema.safeParse(
    existsSync(join(folder, 'modules.json')) ? JSON.parse(readFileSync(join(folder, 'modules.json'), 'utf8')) : [],
  );
  for (const m of modules.success ? modules.data : []) if (m.type.endsWith('Pooling')) await fetchFile(id, `${m.path}/config.json`, folder);
  writeFileSync(join(folder, '.complete'), new Date().toISOString());
  return folder;
}
