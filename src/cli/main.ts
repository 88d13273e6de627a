import { Command, InvalidArgumentError, Option } from 'commander';
import { CORPUS_FORMATS, type CorpusFormat } from '../corpus/load.js';
import { DEFAULT_MIX, DEFAULT_SAMPLE_SEED, MIXES, parseFraction, type Fraction, type Mix, type SampleSpec } from '../corpus/sample.js';
import { LABEL_SPACES, parseSourceSpec, type LabelSpace, type SourceSpec } from '../corpus/sources.js';
import { DEFAULT_EMBEDDER, withDtype, withPrompt } from '../embed/create.js';
import { DTYPES } from '../embed/transformers.js';
import { errorCode, InputError, type ErrorCode } from '../errors.js';
import { settingsFromEnv } from '../settings.js';
import { DemoQuerySchema } from '../service/query.js';
import { parseInput } from '../service/validate.js';
import { runBuild } from './build-index.js';
import { loadService } from './load-service.js';
import { runServe, type ServeCommandOptions } from './serve-command.js';
import { runPromptExport } from './prompts-command.js';
import { runEval } from './eval-command.js';
import { FORMATS } from '../prompt/formats.js';
import { JSONL_SHAPES, type JsonlShape } from '../service/jsonl-shapes.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number 0..65535');
  return n;
}

/** Repeatable, comma-separated list option. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('must be a whole number, 0 or more');
  return n;
}

/** `--fraction`, `--mix`, `--seed`, as build and prompts take them. */
interface SampleFlags {
  fraction?: Fraction;
  mix?: Mix;
  seed?: number;
}

/** The sample asked for, or none; --mix or --seed without --fraction is a mistake worth naming. */
function sampleSpec(o: SampleFlags): SampleSpec | undefined {
  if (!o.fraction) {
    if (o.mix !== undefined || o.seed !== undefined) throw new InputError(o.mix !== undefined ? 'mix' : 'seed', 'only means something with --fraction');
    return undefined;
  }
  return { fraction: o.fraction, mix: o.mix ?? DEFAULT_MIX, seed: o.seed ?? DEFAULT_SAMPLE_SEED };
}

const program = new Command();
program.name('erc-demos').description('Demonstration retrieval for emotion recognition in conversation').showHelpAfterError();

program
  .command('build')
  .description('embed a corpus split and write an index directory (HNSW + SQLite + manifest)')
  .option('--source <format:path[:name]>', `a corpus to index, repeatable to pool several: <format>:<path>[:<corpus-name>], format among ${CORPUS_FORMATS.join(', ')}`, (v: string, p: SourceSpec[] = []) => [...p, parseSourceSpec(v)])
  .addOption(new Option('--corpus <format>', 'corpus format (one source; or use --source)').choices(CORPUS_FORMATS))
  .option('--data <path>', 'corpus directory (or one file), with --corpus')
  .option('--split <name>', 'split(s) to index, repeatable or comma-separated', collect)
  .option('--embedder <spec>', 'use-lite or transformers:<model id or folder>', DEFAULT_EMBEDDER)
  .addOption(new Option('--dtype <dtype>', "transformers only: the graph file by dtype (fp32: onnx/model.onnx, as sentence-transformers loads; q8: onnx/model_quantized.onnx; fp16, int8, uint8, q4, q4f16, bnb4); default fp32").choices(DTYPES))
  .option('--query-prompt <prompt>', "transformers only: the prompt put before every utterance, queried and indexed alike: a name from the folder's prompts (e.g. query) or the text itself; default the folder's default prompt; '' for none")
  .requiredOption('--out <dir>', 'index directory to write (replaced atomically)')
  .option('--name <name>', 'index name served over HTTP (default: the directory name)')
  .addOption(new Option('--label-space <space>', 'native (each corpus\' own labels; one source) or unified (the 9 Feeling-Wheel labels; default for several sources)').choices(LABEL_SPACES))
  .option('--label-map <file.json>', 'unified space: {corpus: {label: unified label}}, adding to or overriding the paper\'s Table 3')
  .option('--fraction <f>', 'index only this fraction of the dialogues (data scaling), e.g. 1/8', parseFraction)
  .addOption(new Option('--mix <mix>', 'with --fraction: total (of the pool) or ratio (of each corpus)').choices(MIXES))
  .option('--seed <n>', `with --fraction: the sample's seed (default ${DEFAULT_SAMPLE_SEED})`, nonNegativeInt)
  .option('--corpus-name <name>', 'jsonl only: corpus name, which picks a label scheme (e.g. iemocap)')
  .option('--batch-size <n>', 'utterances per embedder call (the embedder sorts each by length)', positiveInt, 1024)
  .option('--m <n>', 'HNSW M', positiveInt)
  .option('--ef-construction <n>', 'HNSW efConstruction', positiveInt)
  .option('--ef-search <n>', 'HNSW ef at query time', positiveInt)
  .addOption(new Option('--projection <kind>', 'the space searched: auto (chosen by cross-validation on the training labels), none (raw embedding) or lda').choices(['auto', 'none', 'lda']).default('auto'))
  .option('--lda-blend <b>', 'force LDA with this share of the raw embedding kept beside the LDA part, in [0, 1) (default 0.4)', (v: string) => {
    const n = Number(v);
    if (!(n >= 0 && n < 1)) throw new InvalidArgumentError('must be a number in [0, 1)');
    return n;
  })
  .option('--lda-shrinkage <s>', 'force LDA with this shrinkage, in [0, 1] (default 0.1)', (v: string) => {
    const n = Number(v);
    if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('must be a number between 0 and 1');
    return n;
  })
  .action(async (o: SampleFlags & { source?: SourceSpec[]; labelSpace?: LabelSpace; labelMap?: string; corpus?: CorpusFormat; data?: string; split?: string[]; embedder: string; out: string; name?: string; corpusName?: string; batchSize: number; m?: number; efConstruction?: number; efSearch?: number; projection: 'auto' | 'none' | 'lda'; ldaShrinkage?: number; ldaBlend?: number; queryPrompt?: string; dtype?: string }) => {
    await runBuild({
      sources: o.source, format: o.corpus, data: o.data, labelSpace: o.labelSpace, labelMapFile: o.labelMap, sample: sampleSpec(o), splits: o.split ?? ['train'], embedder: withPrompt(withDtype(o.embedder, o.dtype), o.queryPrompt), out: o.out, name: o.name,
      corpusName: o.corpusName, batchSize: o.batchSize, M: o.m, efConstruction: o.efConstruction, efSearch: o.efSearch,
      projection: o.projection, ldaShrinkage: o.ldaShrinkage, ldaBlend: o.ldaBlend,
    });
  });

program
  .command('serve')
  .description('serve GET /demonstrations over HTTP; with no --index, the built-in default (MELD train or the sample corpus)')
  .option('--index <[name=]dir>', 'index directory, repeatable', (v: string, p: string[] = []) => [...p, v])
  .option('--port <n>', 'port', port, Number(process.env.PORT ?? 8080))
  .option('--host <host>', 'address to listen on', process.env.HOST ?? '127.0.0.1')
  .option('--embedder <spec>', 'refuse indexes not built with this embedder')
  .action((o: ServeCommandOptions) => runServe(o));

program
  .command('query')
  .description('print the demonstrations for one utterance as JSON')
  .requiredOption('--index <dir>', 'index directory')
  .option('-k, --k <n>', 'number of demonstrations (per label with --strategy per-label)')
  .option('--labels <list>', 'only these labels (comma-separated)')
  .option('--strategy <name>', 'topk, per-label or mmr', 'topk')
  .option('--lambda <x>', 'mmr: relevance against diversity, 0..1 (default 0.5)')
  .option('--exclude-dialogue <ids>', 'never from these dialogue ids (comma-separated)')
  .option('--split <names>', 'only from these splits (comma-separated)')
  .option('--corpus <names>', 'only from these corpora of a pooled index (comma-separated)')
  .option('--dedup', 'drop demonstrations whose text repeats a better one')
  .option('--dialogue <id>', "the utterance's own dialogue: never returned; searched in its fold's space when indexed")
  .option('--no-cross-fit', "search an indexed dialogue's utterance in the index's full space, not its fold's")
  .option('--embedder <spec>', 'refuse the index unless built with this embedder')
  .argument('<utterance>', 'the utterance to find demonstrations for')
  .action(async (utterance: string, o: { index: string; k?: string; labels?: string; strategy: string; lambda?: string; excludeDialogue?: string; split?: string; corpus?: string; dedup?: boolean; dialogue?: string; crossFit: boolean; embedder?: string }) => {
    const query = parseInput(DemoQuerySchema, {
      utterance, k: o.k, labels: o.labels, strategy: o.strategy, lambda: o.lambda, exclude_dialogue: o.excludeDialogue, split: o.split, corpus: o.corpus, dedup: o.dedup ? 'true' : undefined,
      dialogue: o.dialogue, cross_fit: o.crossFit ? undefined : 'false',
    });
    const service = await loadService([o.index], o.embedder, 'batch', settingsFromEnv());
    console.log(JSON.stringify(await service.demonstrations(query), null, 2));
  });

/** The options of commands that run an index over one split of a corpus (prompts, eval). */
function indexOverSplit(command: Command, indexHelp: string, splitHelp: string): Command {
  return command
    .requiredOption('--index <dir>', indexHelp)
    .option('--source <format:path[:name]>', 'a corpus to run over, repeatable: <format>:<path>[:<corpus-name>] (its labels through the index\'s label maps)', (v: string, p: SourceSpec[] = []) => [...p, parseSourceSpec(v)])
    .addOption(new Option('--corpus <format>', 'corpus format (one source; or use --source)').choices(CORPUS_FORMATS))
    .option('--data <path>', 'corpus directory (or one file), with --corpus')
    .option('--split <name>', splitHelp, 'test')
    .option('--corpus-name <name>', 'jsonl only: corpus name (label scheme)')
    .option('--label-map <file.json>', 'unified index: {corpus: {label: unified label}} for corpora its own maps lack');
}

indexOverSplit(
  program.command('prompts').description('write one prompt per target turn of a corpus split as JSONL ({id, input, target, demonstrations})'),
  'index the demonstrations come from',
  'split to make prompts for',
)
  .option('--format <name>', `built-in format: ${[...FORMATS.keys()].join(', ')}`, 'instructerc')
  .option('--format-file <json>', 'a format of your own (see docs/PROMPTS.md); overrides --format')
  .option('-k, --k <n>', 'demonstrations per prompt (per label with --strategy per-label); 0 for none', '4')
  .option('--strategy <name>', 'topk, per-label or mmr', 'topk')
  .option('--lambda <x>', 'mmr: relevance against diversity, 0..1 (default 0.5)')
  .option('--window <n>', "history window (turns before the target); default: the format's")
  .option('--unified', 'map labels into the unified 9-label space')
  .option('--allow-eval-demos', 'allow demonstrations from dev/test splits the index holds')
  .option('--dedup', 'drop demonstrations whose text repeats a better one')
  .option('--no-cross-fit', "an indexed (training) utterance's demonstrations from the index's full space, not from the space fitted without its fold")
  .option('--demo-block <template>', 'demonstration block template, with {examples}')
  .option('--demo-item <template>', 'one demonstration, with {text} {label} {labels}')
  .option('--demo-separator <text>', 'between demonstrations')
  .addOption(new Option('--jsonl-shape <shape>', 'line shape: instructerc {id,input,target,demonstrations}, alpaca {instruction,input,output}, sharegpt {conversations}, messages {messages:[{role,content}]}, prompt-completion {prompt,completion} (all but instructerc also write the LLaMA-Factory dataset_info.json entry beside the export)').choices(JSONL_SHAPES).default('instructerc'))
  .option('--system <text>', 'messages shape: a system message before each prompt')
  .option('--fraction <f>', 'export only this fraction of the split\'s dialogues (data scaling, e.g. 1/8); the index must hold the same sample', parseFraction)
  .addOption(new Option('--mix <mix>', 'with --fraction: total (of the pool) or ratio (of each corpus)').choices(MIXES))
  .option('--seed <n>', `with --fraction: the sample's seed (default ${DEFAULT_SAMPLE_SEED})`, nonNegativeInt)
  .requiredOption('--out <file>', 'JSONL file to write (replaced atomically)')
  .action(async (o: SampleFlags & { index: string; source?: SourceSpec[]; corpus?: CorpusFormat; data?: string; labelMap?: string; split: string; corpusName?: string; format: string; formatFile?: string; k: string; strategy: string; window?: string; unified?: boolean; allowEvalDemos?: boolean; dedup?: boolean; crossFit: boolean; demoBlock?: string; demoItem?: string; demoSeparator?: string; jsonlShape: JsonlShape; system?: string; lambda?: string; out: string }) => {
    await runPromptExport({ ...o, sample: sampleSpec(o) });
  });

indexOverSplit(
  program.command('eval').description('measure demonstration quality on a labelled split: kNN weighted-F1, precision@k, HNSW recall'),
  'index of the training split',
  'split to evaluate',
)
  .option('-k, --k <n>', 'neighbours', positiveInt, 10)
  .addOption(new Option('--search <kind>', 'search the metrics use').choices(['exact', 'hnsw']).default('exact'))
  .option('--dedup', 'drop neighbours whose text repeats a closer one (as demonstrations would be)')
  .option('--no-cross-fit', "the split's indexed utterances (--split train) searched in the index's full space, not their fold's")
  .option('--json', 'print one JSON object')
  .action(async (o: { index: string; source?: SourceSpec[]; corpus?: CorpusFormat; data?: string; labelMap?: string; split: string; corpusName?: string; k: number; search: 'exact' | 'hnsw'; dedup?: boolean; crossFit: boolean; json?: boolean }) => {
    await runEval(o);
  });

/**
 * Each error code's exit status (errors.ts says what each code means): 2 for the caller's mistakes (an option or value
 * to fix, printed as "invalid ..."), 1 for every other failure; an error without a code (a bug, a system error) is 1.
 */
const EXIT_CODE: Readonly<Record<ErrorCode, 1 | 2>> = {
  INPUT_INVALID: 2, LIMIT_EXCEEDED: 2, PROMPT_TOO_LONG: 2,
  TEMPLATE_INVALID: 1, CANCELLED: 1, OUT_NOT_AN_INDEX: 1, OUT_REFUSED: 1, INDEX_LOAD_FAILED: 1, INDEX_NAME_TAKEN: 1, NO_INDEX: 1,
  CORPUS_FORMAT: 1, CORPUS_EMPTY: 1, DATA_NOT_FOUND: 1, DATA_PATH_INVALID: 1, SPLIT_MISSING: 1,
  EMBEDDER_UNKNOWN: 1, EMBEDDER_OPTION_INVALID: 1, MODEL_FOLDER_INVALID: 1, MODEL_UNAVAILABLE: 1, MODEL_UNSUPPORTED: 1,
  MODEL_CHANGED: 1, SETTING_INVALID: 1, NOT_SUPPORTED: 1,
};

program.parseAsync().catch((error: unknown) => {
  const code = errorCode(error);
  const exit = code ? EXIT_CODE[code] : 1;
  console.error(`erc-demos: ${exit === 2 ? 'invalid ' : ''}${(error as Error).message}`);
  process.exit(exit);
});
