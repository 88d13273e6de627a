/**
 * erc-demos as a library: what a program that imports the package may use. Everything else under src/ is the house's
 * own and may change between versions.
 */

// The service both doors (HTTP, CLI) call: loaded indexes, demonstrations, prompts.
export { DemoService, type DemoQueryOptions, type DemoResponse, type AddDialoguesResult, type RelabelResult, type RemoveResult } from './service/service.js';
export type { WriteDialogueInput, WrittenSummary } from './service/writes.js';
// Live writes: folding them into a fresh build (erc-demos compact).
export { compactIndex, type CompactOptions, type CompactResult } from './writes/compact.js';
export type { DemoQuery } from './service/query.js';
export type { PromptRequest } from './service/prompt-request.js';
export { exportPrompts, type ExportOptions, type ExportSummary } from './service/export.js';
export { JSONL_SHAPES, type JsonlShape } from './service/jsonl-shapes.js';

// Building and opening indexes.
export { buildIndex, DEFAULT_HNSW, type BuildOptions } from './index/build.js';
export { DemoIndex, readManifest, type OpenOptions } from './index/open.js';
export type { Manifest } from './index/manifest.js';

// Embedders.
export { createEmbedder, DEFAULT_EMBEDDER } from './embed/create.js';
export type { Embedder, EmbedOptions } from './embed/types.js';

// Corpora: loaders, pools, label spaces, samples.
export { CORPUS_FORMATS, loadCorpus, type CorpusFormat, type LoadOptions } from './corpus/load.js';
export { loadSources, parseSourceSpec, LABEL_SPACES, type LabelSpace, type LoadedSources, type SourceSpec } from './corpus/sources.js';
export { readLabelMapFile, type LabelMap } from './corpus/label-map.js';
export { MIXES, parseFraction, sampleDialogues, type Mix, type SampleSpec } from './corpus/sample.js';
export { UNIFIED_LABELS, labelScheme } from './corpus/labels.js';
export type { Dialogue, LoadedCorpus, Turn } from './corpus/types.js';

// Prompt formats and rendering.
export { FORMATS, PromptFormatSchema, type PromptFormat, type PromptFormatInput } from './prompt/formats.js';
export { renderPrompt, type RenderInput, type RenderedPrompt } from './prompt/render.js';

// Retrieval and evaluation.
export { retrieve, retrieveExact } from './retrieve/retrieve.js';
export { STRATEGIES, type Demonstration, type SelectionOptions, type Strategy } from './retrieve/select.js';
export { evaluateRetrieval, type EvalOptions, type EvalResult } from './eval/evaluate.js';

// Settings.
export { DEFAULT_SETTINGS, settingsFromEnv, type Settings } from './settings.js';

// Errors: every one a user can meet, each with a stable code (ERROR_CODES says what each means).
export {
  CancelledError, CorpusFormatError, CorpusSourceError, EmbedderError, ErcDemosError, ERROR_CODES, errorCode, IndexLoadError, IndexSetError,
  InputError, LimitError, ModelFolderError, NotSupportedError, OutputRefusedError, PromptTooLongError, ServiceClosedError, SettingError, TemplateError, WriteBusyError, WriteFailedError,
  type ErrorCode, type InputErrorCode,
} from './errors.js';
