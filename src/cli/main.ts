import { Command, CommanderError, Option } from 'commander';
import { CORPUS_FORMATS, type CorpusFormat } from '../corpus/load.js';
import { DEFAULT_MIX, DEFAULT_SAMPLE_SEED, MIXES, parseFraction, type Fraction, type Mix, type SampleSpec } from '../corpus/sample.js';
import { LABEL_SPACES, parseSourceSpec, type LabelSpace, type SourceSpec } from '../corpus/sources.js';
import { DEFAULT_EMBEDDER, withDtype, withPrompt } from '../embed/create.js';
import { DTYPES } from '../embed/transformers.js';
import { errorCode, InputError, type ErrorCode } from '../errors.js';
import { parseDecimal, parseInteger, type NumberRange } from '../numbers.js';
import { hostFromEnv, portFromEnv, settingsFromEnv } from '../settings.js';
import { DemoQuerySchema } from '../service/query.js';
import { addressable } from '../service/service.js';
import { parseInput } from '../service/validate.js';
import { runBuild } from './build-index.js';
import { loadService } from './load-service.js';
import { runServe, type ServeCommandOptions } from './serve-command.js';
import { newKey, SCOPES, type Scope } from '../keys/file.js';
import { runPromptExport } from './prompts-command.js';
import { runEval } from './eval-command.js';
import { runAdd, runCompact, runRelabel, runRemove, type AddCommandOptions } from './write-commands.js';
import { FORMATS } from '../prompt/formats.js';
import { JSONL_SHAPES, type JsonlShape } from '../service/jsonl-shapes.js';

/**
 * A numeric option's parser, by the one rule of src/numbers.ts (`--k 0x5`, `--window ''`, `--m 1e1` are refused, not
 * guessed): a bad value is an InputError naming the flag (exit 2).
 */
function integerOption(flag: string, range: NumberRange = {}): (value: string) => number {
  return (value) => parseInteger(flag, value, range);
}

function decimalOption(flag: string, range: NumberRange = {}): (value: string) => number {
  return (value) => parseDecimal(flag, value, range);
}

const positiveInt = (flag: string) => integerOption(flag, { min: 1 });

/** The parsers of options meant to be given several times (each adds to a list); every other option is given once. */
const REPEATABLE = new WeakSet<object>();

function repeatable<T>(parse: (value: string, previous: T[] | undefined) => T[]): (value: string, previous: T[] | undefined) => T[] {
  REPEATABLE.add(parse);
  return parse;
}

/** Repeatable, comma-separated list option. */
const collect = repeatable((value: string, previous: string[] = []): string[] => [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)]);

/** Repeatable `--source <format:path[:name]>`. */
const sources = repeatable((value: string, previous: SourceSpec[] = []): SourceSpec[] => [...previous, parseSourceSpec(value)]);

/**
 * An index's name (build --name, the name of `--index name=dir`): the HTTP `index` parameter must be able to name
 * it, so not empty and without surrounding spaces (the parameter is trimmed).
 */
function checkIndexName(flag: string, name: string): string {
  if (addressable(name)) return name;
  const why = name.trim() === '' ? 'must not be empty' : 'must not begin or end with spaces';
  throw new InputError(flag, `an index name ${why} (got ${JSON.stringify(name)})`);
}

/** `--index [name=]dir` (serve, query): a directory, and the name before `=` when one is given. */
function indexArgument(value: string): string {
  if (value === '') throw new InputError('index', 'must name an index directory, [name=]dir');
  const eq = value.indexOf('=');
  if (eq === 0) throw new InputError('index', `"${value}": the name before "=" is empty; give --index <name>=<dir>, or the directory alone to serve it under its own name`);
  if (eq > 0) {
    checkIndexName('index', value.slice(0, eq));
    if (value.slice(eq + 1) === '') throw new InputError('index', `"${value}": the directory after "=" is empty`);
  }
  return value;
}

/** `--index <dir>` of prompts and eval: a directory. */
function indexDir(value: string): string {
  if (value === '') throw new InputError('index', 'must name an index directory');
  return value;
}

/** --keys: a file name (an empty one would silently mean no keys). */
function keysFile(value: string): string {
  if (value.trim() === '') throw new InputError('keys', 'must name the API keys file');
  return value;
}

/** --host: an address or host name (an empty one would have Node listen on every interface). */
function host(value: string): string {
  if (value.trim() === '' || value !== value.trim()) throw new InputError('host', `must be an address or host name, without spaces (got ${JSON.stringify(value)})`);
  return value;
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
program.name('erc-demos').description('Demonstration retrieval for emotion recognition in conversation').showHelpAfterError()
  // Commander's own usage errors (unknown option, bad choice, conflicting options) are thrown to the catch below,
  // which exits 2 for them as for every other caller's mistake. Set before the commands, which inherit it.
  .exitOverride();

/** `--lda-blend` and `--lda-shrinkage` force LDA: with `--projection none` or `auto` they contradict it. */
function checkProjection(o: { projection?: string; ldaBlend?: number; ldaShrinkage?: number }): void {
  if (o.projection === undefined || o.projection === 'lda') return;
  const forcing = o.ldaBlend !== undefined ? 'lda-blend' : o.ldaShrinkage !== undefined ? 'lda-shrinkage' : undefined;
  if (forcing) throw new InputError(forcing, `--${forcing} forces LDA, which contradicts --projection ${o.projection}: give one of them (or --projection lda)`);
}

program
  .command('build')
  .description('embed a corpus split and write an index directory (HNSW + SQLite + manifest)')
  .option('--source <format:path[:name]>', `a corpus to index, repeatable to pool several: <format>:<path>[:<corpus-name>], format among ${CORPUS_FORMATS.join(', ')}`, sources)
  .addOption(new Option('--corpus <format>', 'corpus format (one source; or use --source)').choices(CORPUS_FORMATS))
  .option('--data <path>', 'corpus directory (or one file), with --corpus')
  .option('--split <name>', 'split(s) to index, repeatable or comma-separated', collect)
  .option('--embedder <spec>', 'use-lite or transformers:<model id or folder>', DEFAULT_EMBEDDER)
  .addOption(new Option('--dtype <dtype>', "transformers only: the graph file by dtype (fp32: onnx/model.onnx, as sentence-transformers loads; q8: onnx/model_quantized.onnx; fp16, int8, uint8, q4, q4f16, bnb4); default fp32").choices(DTYPES))
  .option('--query-prompt <prompt>', "transformers only: the prompt put before every utterance, queried and indexed alike: a name from the folder's prompts (e.g. query) or the text itself; default the folder's default prompt; '' for none")
  .requiredOption('--out <dir>', 'index directory to write (replaced atomically)')
  .option('--name <name>', 'index name served over HTTP (default: the directory name)', (v: string) => checkIndexName('name', v))
  .addOption(new Option('--label-space <space>', 'native (each corpus\' own labels; one source) or unified (the 9 Feeling-Wheel labels; default for several sources)').choices(LABEL_SPACES))
  .option('--label-map <file.json>', 'unified space: {corpus: {label: unified label}}, adding to or overriding the paper\'s Table 3')
  .option('--fraction <f>', 'index only this fraction of the dialogues (data scaling), e.g. 1/8', parseFraction)
  .addOption(new Option('--mix <mix>', 'with --fraction: total (of the pool) or ratio (of each corpus)').choices(MIXES))
  .option('--seed <n>', `with --fraction: the sample's seed (default ${DEFAULT_SAMPLE_SEED})`, integerOption('seed', { min: 0 }))
  .addOption(new Option('--corpus-name <name>', 'jsonl only: corpus name, which picks a label scheme (e.g. iemocap); with --source, its third part').conflicts('source'))
  .option('--batch-size <n>', 'utterances per embedder call (the embedder sorts each by length)', positiveInt('batch-size'), 1024)
  .option('--m <n>', 'HNSW M', positiveInt('m'))
  .option('--ef-construction <n>', 'HNSW efConstruction', positiveInt('ef-construction'))
  .option('--ef-search <n>', 'HNSW ef at query time', positiveInt('ef-search'))
  .addOption(new Option('--projection <kind>', 'the space searched: auto (chosen by cross-validation on the training labels; the default), none (raw embedding) or lda').choices(['auto', 'none', 'lda']))
  .option('--lda-blend <b>', 'force LDA with this share of the raw embedding kept beside the LDA part, in [0, 1) (default 0.4)', (v: string) => {
    const n = parseDecimal('lda-blend', v, { min: 0, max: 1 });
    if (n === 1) throw new InputError('lda-blend', 'must be at least 0 and below 1');
    return n;
  })
  .option('--lda-shrinkage <s>', 'force LDA with this shrinkage, in [0, 1] (default 0.1)', decimalOption('lda-shrinkage', { min: 0, max: 1 }))
  .option('--relabel-split', 'load a --data file whose name says another split as --split, on purpose (else refused)')
  .option('--discard-writes', 'replace an --out index that has writes since its build (live writes), dropping them (else refused: `erc-demos compact` keeps them)')
  .action(async (o: SampleFlags & { relabelSplit?: boolean; discardWrites?: boolean; source?: SourceSpec[]; labelSpace?: LabelSpace; labelMap?: string; corpus?: CorpusFormat; data?: string; split?: string[]; embedder: string; out: string; name?: string; corpusName?: string; batchSize: number; m?: number; efConstruction?: number; efSearch?: number; projection?: 'auto' | 'none' | 'lda'; ldaShrinkage?: number; ldaBlend?: number; queryPrompt?: string; dtype?: string }) => {
    checkProjection(o);
    await runBuild({
      sources: o.source, format: o.corpus, data: o.data, labelSpace: o.labelSpace, labelMapFile: o.labelMap, sample: sampleSpec(o), splits: o.split ?? ['train'], embedder: withPrompt(withDtype(o.embedder, o.dtype), o.queryPrompt), out: o.out, name: o.name,
      corpusName: o.corpusName, batchSize: o.batchSize, M: o.m, efConstruction: o.efConstruction, efSearch: o.efSearch,
      projection: o.projection, ldaShrinkage: o.ldaShrinkage, ldaBlend: o.ldaBlend, relabelSplit: o.relabelSplit, discardWrites: o.discardWrites,
    });
  });

program
  .command('serve')
  .description('serve GET /demonstrations over HTTP; with no --index, the built-in default (MELD train or the sample corpus)')
  .option('--index <[name=]dir>', 'index directory, repeatable', repeatable((v: string, p: string[] = []) => [...p, indexArgument(v)]))
  .option('--port <n>', 'port (default: $PORT, else 8080)', integerOption('port', { min: 0, max: 65535 }))
  .option('--host <host>', 'address to listen on (default: $HOST, else 127.0.0.1)', host)
  .option('--embedder <spec>', 'refuse indexes not built with this embedder')
  .option('--keys <file>', 'API keys file (JSON; default: $ERC_DEMOS_API_KEYS_FILE): every route but /healthz then needs Authorization: Bearer <key>; reread on SIGHUP', keysFile)
  .option('--allow-anonymous', 'requests without a key may read (needed to serve without keys on a non-loopback --host; default: $ERC_DEMOS_ALLOW_ANONYMOUS)')
  // PORT and HOST are read only when the flag is absent, by the same rule (a bad one names the variable).
  .action((o: Partial<ServeCommandOptions>) => runServe({ ...o, port: o.port ?? portFromEnv(), host: o.host ?? hostFromEnv() }));

const keys = program.command('keys').description('API keys for serve (docs/RELIABILITY.md#api-keys)');
keys
  .command('new')
  .description('print a new random key (256 bits) on its first line, then its entry for the keys file (with its SHA-256, not the key)')
  .requiredOption('--name <name>', 'the key\'s name (it appears in the request log)')
  .addOption(new Option('--scope <scope>', 'read, or write (which includes read)').choices(SCOPES).makeOptionMandatory())
  .option('--index <name>', 'an index the key may use, repeatable (default: all)', repeatable((v: string, p: string[] = []) => [...p, v]))
  .action((o: { name: string; scope: Scope; index?: string[] }) => {
    const made = newKey(o.name, o.scope, o.index);
    process.stdout.write(`${made.key}\n${JSON.stringify(made.entry)}\n`);
  });

program
  .command('query')
  .description('print the demonstrations for one utterance as JSON')
  .requiredOption('--index <[name=]dir>', 'index directory', indexArgument)
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

/** The options of commands that run an index over one split of a corpus (prompts, eval, add). */
function indexOverSplit(command: Command, indexHelp: string, splitHelp: string, splitDefault = 'test'): Command {
  return command
    .requiredOption('--index <dir>', indexHelp, indexDir)
    .option('--source <format:path[:name]>', 'a corpus to run over, repeatable: <format>:<path>[:<corpus-name>] (its labels through the index\'s label maps)', sources)
    .addOption(new Option('--corpus <format>', 'corpus format (one source; or use --source)').choices(CORPUS_FORMATS))
    .option('--data <path>', 'corpus directory (or one file), with --corpus')
    .option('--split <name>', splitHelp, splitDefault)
    .addOption(new Option('--corpus-name <name>', 'jsonl only: corpus name (label scheme); with --source, its third part').conflicts('source'))
    .option('--label-map <file.json>', 'unified index: {corpus: {label: unified label}} for corpora its own maps lack')
    .option('--relabel-split', 'load a --data file whose name says another split as --split, on purpose (else refused)');
}

indexOverSplit(
  program.command('prompts').description('write one prompt per target turn of a corpus split as JSONL ({id, input, target, demonstrations})'),
  'index the demonstrations come from',
  'split to make prompts for',
)
  .option('--format <name>', `built-in format: ${[...FORMATS.keys()].join(', ')}`, 'instructerc')
  .addOption(new Option('--format-file <json>', 'a format of your own (see docs/PROMPTS.md), instead of --format').conflicts('format'))
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
  .option('--seed <n>', `with --fraction: the sample's seed (default ${DEFAULT_SAMPLE_SEED})`, integerOption('seed', { min: 0 }))
  .requiredOption('--out <file>', 'JSONL file to write (replaced atomically)')
  .action(async (o: SampleFlags & { index: string; source?: SourceSpec[]; corpus?: CorpusFormat; data?: string; labelMap?: string; split: string; corpusName?: string; format: string; formatFile?: string; k: string; strategy: string; window?: string; unified?: boolean; allowEvalDemos?: boolean; dedup?: boolean; crossFit: boolean; demoBlock?: string; demoItem?: string; demoSeparator?: string; jsonlShape: JsonlShape; system?: string; lambda?: string; out: string; relabelSplit?: boolean }) => {
    await runPromptExport({ ...o, sample: sampleSpec(o) });
  });

indexOverSplit(
  program.command('eval').description('measure demonstration quality on a labelled split: kNN weighted-F1, precision@k, HNSW recall'),
  'index of the training split',
  'split to evaluate',
)
  .option('-k, --k <n>', 'neighbours', positiveInt('k'), 10)
  .addOption(new Option('--search <kind>', 'search the metrics use').choices(['exact', 'hnsw']).default('exact'))
  .option('--dedup', 'drop neighbours whose text repeats a closer one (as demonstrations would be)')
  .option('--no-cross-fit', "the split's indexed utterances (--split train) searched in the index's full space, not their fold's")
  .option('--json', 'print one JSON object')
  .action(async (o: { index: string; source?: SourceSpec[]; corpus?: CorpusFormat; data?: string; labelMap?: string; split: string; corpusName?: string; k: number; search: 'exact' | 'hnsw'; dedup?: boolean; crossFit: boolean; json?: boolean; relabelSplit?: boolean }) => {
    await runEval(o);
  });

indexOverSplit(
  program.command('add').description('add the dialogues of a corpus split to an index, durably, while it may be served (live writes; README)'),
  'index to add to',
  'split to add',
  'train',
).action(async (o: AddCommandOptions) => {
  await runAdd(o);
});

program
  .command('relabel')
  .description("give one turn of an indexed dialogue new gold labels, durably (answered at once by a serve holding the index)")
  .requiredOption('--index <dir>', 'index directory', indexDir)
  .requiredOption('--dialogue <id>', 'the dialogue as the index names it (`dialogue` in demonstrations)')
  .requiredOption('--turn <n>', 'turn number (0-based, `turn` in demonstrations)', integerOption('turn', { min: 0 }))
  .requiredOption('--label <label>', 'the new label (repeat or comma-separate for a multi-label index)', collect)
  .action(async (o: { index: string; dialogue: string; turn: number; label: string[] }) => {
    await runRelabel(o);
  });

program
  .command('remove')
  .description('remove a dialogue from an index, durably: its utterances are never returned again')
  .requiredOption('--index <dir>', 'index directory', indexDir)
  .requiredOption('--dialogue <id>', 'the dialogue as the index names it (`dialogue` in demonstrations)')
  .action(async (o: { index: string; dialogue: string }) => {
    await runRemove(o);
  });

program
  .command('compact')
  .description('rebuild an index with what was written to it (choosing its space again), swapped in atomically while it is served')
  .requiredOption('--index <dir>', 'index directory', indexDir)
  .option('--keep-space', 'keep the index\'s space (its projection) instead of choosing it again by cross-validation')
  .action(async (o: { index: string; keepSpace?: boolean }) => {
    await runCompact(o);
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
  SERVICE_CLOSED: 1, AUTH_REQUIRED: 2, AUTH_FORBIDDEN: 2, KEYS_FILE_INVALID: 1,
  NOT_FOUND: 2, DIALOGUE_EXISTS: 2, WRITE_BUSY: 1, WRITE_FAILED: 1,
};

/**
 * Every option that takes a value is given once, unless it is repeatable (REPEATABLE): a second `--out` is an error
 * naming the option rather than silently the one used. Applied to every command's options here, after they are all
 * defined, by wrapping each option's parser (commander calls it once per occurrence; the value's source is 'cli'
 * from the first occurrence on).
 */
function refuseRepeatedOptions(command: Command): void {
  for (const option of command.options) {
    if (!(option.required || option.optional) || option.variadic || (option.parseArg && REPEATABLE.has(option.parseArg))) continue;
    const parse = option.parseArg;
    const key = option.attributeName();
    const flag = (option.long ?? option.short ?? key).replace(/^-+/, '');
    let first = '';
    option.argParser((value: string, previous: unknown) => {
      if (command.getOptionValueSource(key) === 'cli') {
        throw new InputError(flag, `given twice (${JSON.stringify(first)}, then ${JSON.stringify(value)}): give it once`);
      }
      first = value;
      return parse ? parse.call(option, value, previous) : value;
    });
  }
  for (const sub of command.commands) refuseRepeatedOptions(sub);
}
refuseRepeatedOptions(program);

program.parseAsync().catch((error: unknown) => {
  if (error instanceof CommanderError) {
    // Commander has printed it: help or the version (exit 0), or a usage error, the caller's mistake (exit 2).
    process.exit(error.exitCode === 0 ? 0 : 2);
  }
  const code = errorCode(error);
  const exit = code ? EXIT_CODE[code] : 1;
  console.error(`erc-demos: ${exit === 2 ? 'invalid ' : ''}${(error as Error).message}`);
  process.exit(exit);
});
