import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/corpus/load.js';
import { createEmbedder } from '../src/embed/create.js';
import { errorCode, ERROR_CODES, InputError } from '../src/errors.js';
import { buildIndex } from '../src/index/build.js';
import { ErcDemosExampleSelector } from '../src/langchain.js';
import { parseDecimal, parseInteger, readNumber } from '../src/numbers.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { createApp, HTTP_STATUS } from '../src/server/app.js';
import { DemoQuerySchema } from '../src/service/query.js';
import { DemoService, type DemoPlan } from '../src/service/service.js';
import { parseInput } from '../src/service/validate.js';
import { hostFromEnv, portFromEnv, settingsFromEnv } from '../src/settings.js';
import { cliAsync, tempDir } from './helpers.js';

/** What a call threw: its code, param and message. */
async function thrown(call: () => unknown): Promise<{ code: string | undefined; param?: string; message: string }> {
  try {
    await call();
  } catch (error) {
    return { code: errorCode(error), param: error instanceof InputError ? error.param : undefined, message: (error as Error).message };
  }
  throw new Error('did not throw');
}

/** Numbers that Number() would read but the one rule refuses. */
const NOT_PLAIN = ['', ' ', ' 5', '5 ', '+5', '0x5', '0b101', '0o5', '1e1', '1_000', 'Infinity', '-Infinity', 'NaN', '5.', '.', '-', '\t5'];

describe('one strict rule for numbers given as text (issue 23, item 8)', () => {
  it('integers are plain digits with an optional minus; decimals the same with at most one point', () => {
    for (const text of NOT_PLAIN.filter((t) => t !== '5.')) expect(readNumber('integer', text), JSON.stringify(text)).toHaveProperty('problem');
    expect(readNumber('integer', '5.')).toHaveProperty('problem');
    for (const text of NOT_PLAIN.filter((t) => t !== '5.')) expect(readNumber('decimal', text), JSON.stringify(text)).toHaveProperty('problem');
    expect(readNumber('integer', '42')).toEqual({ value: 42 });
    expect(readNumber('integer', '-3')).toEqual({ value: -3 });
    expect(readNumber('integer', '08')).toEqual({ value: 8 }); // decimal, not octal
    expect(readNumber('integer', '-0')).toEqual({ value: 0 });
    expect(readNumber('decimal', '0.5')).toEqual({ value: 0.5 });
    expect(readNumber('decimal', '.5')).toEqual({ value: 0.5 });
    expect(readNumber('decimal', '1.')).toEqual({ value: 1 });
    expect(readNumber('integer', '99999999999999999999')).toEqual({ problem: 'must be at most 9007199254740991', unwritten: false });
    expect(readNumber('decimal', '9'.repeat(400))).toHaveProperty('problem');
    expect(readNumber('integer', '0x5', { min: 1, max: 100 })).toEqual({ problem: 'must be an integer between 1 and 100', unwritten: true });
    expect(readNumber('integer', '0', { min: 1, max: 100 })).toEqual({ problem: 'must be between 1 and 100', unwritten: false });
    // A CLI flag's error shows what was given.
    expect(() => parseInteger('window', '')).toThrow(/^window: must be an integer, got an empty value$/);
    expect(() => parseInteger('k', '0x5', { min: 0, max: 100 })).toThrow(/^k: must be an integer between 0 and 100 \(plain digits\), got "0x5"$/);
    expect(() => parseDecimal('lambda', '1e-1', { min: 0, max: 1 })).toThrow(/^lambda: must be a number between 0 and 1 \(plain digits with at most one point\), got "1e-1"$/);
  });

  it('environment settings: an empty, blank, hex or exponent number is refused naming the variable, not read as 0', () => {
    for (const value of ['', ' ', '0x10', '1e3', '+5', ' 10']) {
      expect(() => settingsFromEnv({ ERC_DEMOS_SHUTDOWN_TIMEOUT_MS: value }), JSON.stringify(value)).toThrow(/^ERC_DEMOS_SHUTDOWN_TIMEOUT_MS=.*: must be an integer, at least 0$/);
    }
    // A value whose blanks would not show is quoted.
    expect(() => settingsFromEnv({ ERC_DEMOS_SHUTDOWN_TIMEOUT_MS: ' ' })).toThrow('ERC_DEMOS_SHUTDOWN_TIMEOUT_MS=" ": must be an integer, at least 0');
    expect(() => settingsFromEnv({ ERC_DEMOS_SHUTDOWN_TIMEOUT_MS: '' })).toThrow('ERC_DEMOS_SHUTDOWN_TIMEOUT_MS="": must be an integer, at least 0');
    expect(() => settingsFromEnv({ ERC_DEMOS_SHUTDOWN_TIMEOUT_MS: '0x10' })).toThrow('ERC_DEMOS_SHUTDOWN_TIMEOUT_MS=0x10: must be an integer, at least 0');
    expect(() => settingsFromEnv({ ERC_DEMOS_MAX_BATCH_QUERIES: '99999999999999999999' })).toThrow(/ERC_DEMOS_MAX_BATCH_QUERIES=9+: must be at most/);
    expect(settingsFromEnv({ ERC_DEMOS_SHUTDOWN_TIMEOUT_MS: '0' }).shutdownTimeoutMs).toBe(0);
    expect(settingsFromEnv({ ERC_DEMOS_SHUTDOWN_TIMEOUT_MS: '2500' }).shutdownTimeoutMs).toBe(2500);
    // A thread count is a number too: no blanks, not empty.
    expect(() => settingsFromEnv({ ERC_DEMOS_EMBED_THREADS: ' 2' })).toThrow('ERC_DEMOS_EMBED_THREADS=" 2": must be auto or a whole number');
    expect(() => settingsFromEnv({ ERC_DEMOS_EMBED_THREADS: '' })).toThrow('ERC_DEMOS_EMBED_THREADS="": must be auto or a whole number');
    // Text settings keep their documented meaning of empty: the default.
    expect(settingsFromEnv({ ERC_DEMOS_MODEL_CACHE: '', ERC_DEMOS_LOG_LEVEL: '' })).toMatchObject({ modelCache: '', logLevel: 'info' });
    let caught: unknown;
    try {
      settingsFromEnv({ ERC_DEMOS_MAX_LIST_ITEMS: '' });
    } catch (error) {
      caught = error;
    }
    expect(errorCode(caught)).toBe('SETTING_INVALID');
  });

  it('PORT and HOST: a bad or empty value is refused naming the variable (PORT= is not a random port)', () => {
    expect(portFromEnv({})).toBe(8080);
    expect(portFromEnv({ PORT: '9000' })).toBe(9000);
    expect(portFromEnv({ PORT: '0' })).toBe(0);
    expect(() => portFromEnv({ PORT: '' })).toThrow('PORT="": must be an integer between 0 and 65535');
    expect(() => portFromEnv({ PORT: 'abc' })).toThrow(/^PORT=abc: must be an integer/);
    expect(() => portFromEnv({ PORT: '0x50' })).toThrow(/^PORT=0x50: /);
    expect(() => portFromEnv({ PORT: '65536' })).toThrow('PORT=65536: must be between 0 and 65535');
    expect(hostFromEnv({})).toBe('127.0.0.1');
    expect(hostFromEnv({ HOST: '0.0.0.0' })).toBe('0.0.0.0');
    expect(() => hostFromEnv({ HOST: '' })).toThrow(/^HOST="": must be an address or host name/);
    expect(() => hostFromEnv({ HOST: ' ' })).toThrow(/^HOST=" ": /);
  });

  it('the HTTP query schema reads k and lambda by the same rule', () => {
    const parse = (query: Record<string, string>) => parseInput(DemoQuerySchema, { utterance: 'hi', ...query }, 'query');
    expect(parse({ k: '5', lambda: '0.25' })).toMatchObject({ k: 5, lambda: 0.25 });
    expect(parse({ lambda: '1' }).lambda).toBe(1);
    for (const k of ['', '0x5', '0b101', '1e1', '+5', ' 5', 'Infinity']) expect(() => parse({ k }), k).toThrow(/^k: must be an integer between 1 and 100$/);
    for (const lambda of ['', ' ', '1e-1', '+0.5', 'NaN', '0x1']) expect(() => parse({ lambda }), lambda).toThrow(/^lambda: must be a number between 0 and 1$/);
    expect(() => parse({ k: '0' })).toThrow(/^k: must be between 1 and 100$/);
  });
});

describe('the doors over one index: HTTP, the library (DemoService), LangChain', () => {
  const dir = tempDir();
  let service: DemoService;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    const embedder = await createEmbedder('use-lite');
    const sample = loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' });
    await buildIndex({ dialogues: sample.dialogues, corpus: 'sample', splits: ['train'], embedder, out: join(dir, 'sample'), name: 'sample', projection: { kind: 'none' } });
    await embedder.close?.();
    service = await DemoService.load([join(dir, 'sample')]);
    server = createApp(service).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server?.close(() => r()));
    await service?.close();
  });

  it('GET /demonstrations: lambda= and k=0x5, 0b101, 1e1, +5 are 400s naming the parameter, not 0 or 5', async () => {
    const cases: [string, string][] = [
      ['lambda=&strategy=mmr', 'lambda'], ['lambda=%20', 'lambda'], ['lambda=1e-1&strategy=mmr', 'lambda'],
      ['k=0x5', 'k'], ['k=0b101', 'k'], ['k=1e1', 'k'], ['k=%2B5', 'k'], ['k=', 'k'], ['k=Infinity', 'k'],
    ];
    for (const [query, param] of cases) {
      const res = await fetch(`${base}/demonstrations?utterance=hi&${query}`);
      const body = (await res.json()) as { error: { param: string; message: string } };
      expect([res.status, body.error.param], query).toEqual([400, param]);
      expect(body.error.message).toMatch(new RegExp(`^${param}: must be an? (integer|number) between`));
    }
    const ok = await fetch(`${base}/demonstrations?utterance=hi&k=3&strategy=mmr&lambda=.5`);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { demonstrations: unknown[] }).demonstrations).toHaveLength(3);
  });

  it('DemoService.demonstrations validates as the HTTP door does: a coded InputError naming the field (issue 23, item 9)', async () => {
    const call = (query: Record<string, unknown>) => thrown(() => service.demonstrations({ utterance: 'hi', ...query } as never));
    expect(await call({ strategy: 'bogus' })).toMatchObject({ code: 'INPUT_INVALID', param: 'strategy', message: 'strategy: must be one of topk, per-label, mmr' });
    expect(await call({ k: Number.NaN })).toMatchObject({ code: 'INPUT_INVALID', param: 'k', message: 'k: must be an integer between 1 and 100' });
    expect(await call({ k: 2.5 })).toMatchObject({ param: 'k' });
    expect(await call({ k: '5' })).toMatchObject({ param: 'k' });
    expect(await call({ k: 0 })).toMatchObject({ param: 'k', message: 'k: must be between 1 and 100' });
    expect(await call({ utterance: 123 })).toMatchObject({ code: 'INPUT_INVALID', param: 'utterance', message: 'utterance: must be a string' });
    expect(await thrown(() => service.demonstrations({} as never))).toMatchObject({ param: 'utterance', message: 'utterance: is required' });
    expect(await call({ labels: 'joy' })).toMatchObject({ code: 'INPUT_INVALID', param: 'labels', message: 'labels: must be a list of strings' });
    expect(await call({ lambda: Number.POSITIVE_INFINITY })).toMatchObject({ param: 'lambda' });
    expect(await call({ dedup: 'yes' })).toMatchObject({ param: 'dedup', message: 'dedup: must be true or false' });
    expect(await call({ topk: 3 })).toMatchObject({ param: 'topk', message: 'topk: unknown parameter' });
    expect(await call({ index: 7 })).toMatchObject({ param: 'index' });
    expect(await thrown(() => service.demonstrations(null as never))).toMatchObject({ code: 'INPUT_INVALID', param: 'query' });
    // Typed values that are right still work, lists as lists.
    const result = await service.demonstrations({ utterance: 'spider in the bath', k: 2, strategy: 'per-label', labels: ['joy', 'fear'] });
    expect(result.demonstrations.map((d) => d.label).sort()).toEqual(['fear', 'fear', 'joy', 'joy']);
  });

  it('batches, plans and prompts are validated too, a batch naming the query by position', async () => {
    expect(await thrown(() => service.demonstrationsBatch([{ utterance: 'a' }, { utterance: 'b', k: Number.NaN }]))).toMatchObject({ code: 'INPUT_INVALID', param: 'queries.1.k' });
    expect(await thrown(() => service.demonstrationsBatch([{ utterance: 'a' }, 'b' as never]))).toMatchObject({ param: 'queries.1' });
    expect(await thrown(() => service.demonstrationsBatch('hi' as never))).toMatchObject({ code: 'INPUT_INVALID', param: 'queries' });
    expect(await thrown(() => service.plan([{ utterance: 'a', strategy: 'bogus' as never }]))).toMatchObject({ param: 'strategy' });
    // A plan is run only if this service made it (validated): a hand-made one is refused.
    const forged = { queries: [] } as DemoPlan;
    expect(await thrown(async () => {
      for await (const _ of service.run(forged)) void _;
    })).toMatchObject({ code: 'INPUT_INVALID', param: 'plan' });
    const dialogue = { turns: [{ speaker: 'A', text: 'Guess what? I got the job!' }] };
    expect(await thrown(() => service.prompt({ format: 'instructerc', dialogue, target: 0, options: { k: Number.NaN } }))).toMatchObject({ code: 'INPUT_INVALID', param: 'options.k' });
    expect(await thrown(() => service.prompt({ format: 'instructerc', dialogue, target: 0, options: { strategy: 'bogus' as never } }))).toMatchObject({ param: 'options.strategy' });
    expect(await thrown(() => service.prompt({ format: 'instructerc', dialogue: { turns: [{ speaker: 'A', text: 5 as never }] }, target: 0 }))).toMatchObject({ param: 'dialogue.turns.0.text' });
    expect(await thrown(() => service.prompt({ format: 'instructerc', dialogue, target: '0' as never }))).toMatchObject({ param: 'target' });
    const prompt = await service.prompt({ format: 'instructerc', dialogue, target: 0, options: { k: 1 } });
    expect(prompt.demonstrations).toHaveLength(1);
  });

  it('the LangChain selector passes its options through the same validation', async () => {
    const select = (options: Record<string, unknown>) => thrown(() => new ErcDemosExampleSelector({ service, ...options } as never).selectExamples({ utterance: 'x' }));
    expect(await select({ labels: 'joy' })).toMatchObject({ code: 'INPUT_INVALID', param: 'labels' });
    expect(await select({ k: Number.NaN })).toMatchObject({ param: 'k' });
    expect(await select({ strategy: 'bogus' })).toMatchObject({ param: 'strategy' });
    expect(await select({ index: '' })).toMatchObject({ param: 'index' });
    // A lambda JavaScript writes with an exponent is still a number (it is not sent as text).
    const examples = await new ErcDemosExampleSelector({ service, k: 2, strategy: 'mmr', lambda: 1e-7 }).selectExamples({ utterance: 'spider in the bath' });
    expect(examples).toHaveLength(2);
  });

  it('an index is served only under a name a request can give (issue 23, item 14, the library door)', async () => {
    expect(await thrown(() => DemoService.load([join(dir, 'sample')], { names: [''] }))).toMatchObject({ code: 'INPUT_INVALID', param: 'names.0', message: expect.stringMatching(/must be a string, not empty, without surrounding spaces \(got ""\)/) });
    expect(await thrown(() => DemoService.load([join(dir, 'sample')], { names: [' a'] }))).toMatchObject({ param: 'names.0' });
    const embedder = await createEmbedder('use-lite');
    const sample = loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' });
    await buildIndex({ dialogues: sample.dialogues.slice(0, 5), corpus: 'sample', splits: ['train'], embedder, out: join(dir, 'unnamed'), name: '', projection: { kind: 'none' } });
    await embedder.close?.();
    expect(await thrown(() => DemoService.load([join(dir, 'unnamed')]))).toMatchObject({ code: 'INDEX_LOAD_FAILED', message: expect.stringMatching(/its name "" cannot be asked for .*--index <name>=<dir>/) });
    const renamed = await DemoService.load([join(dir, 'unnamed')], { names: ['small'] });
    expect([...renamed.indexes.keys()]).toEqual(['small']);
    await renamed.close();
  });

  it('a closed service refuses every call with SERVICE_CLOSED', async () => {
    const closed = await DemoService.load([join(dir, 'sample')]);
    const plan = closed.plan([{ utterance: 'hi' }]);
    // An index taken from the service before its close: its graph is freed with the service (release-graph.ts).
    const { index } = closed.index();
    const query = index.queryVector(new Float32Array(index.manifest.embedder.dim).fill(0.05));
    expect(index.search(query, 2)).toHaveLength(2);
    await closed.close();
    expect(await thrown(() => index.search(query, 2))).toMatchObject({ code: 'SERVICE_CLOSED', message: expect.stringMatching(/^index sample: the service is closed/) });
    expect(Object.keys(ERROR_CODES)).toContain('SERVICE_CLOSED');
    expect(HTTP_STATUS.SERVICE_CLOSED).toBe(500);
    for (const call of [
      () => closed.demonstrations({ utterance: 'hi' }),
      () => closed.demonstrationsBatch([{ utterance: 'hi' }]),
      () => closed.plan([{ utterance: 'hi' }]),
      () => closed.index(),
      () => closed.prompt({ format: 'instructerc', dialogue: { turns: [{ speaker: 'A', text: 'hi' }] }, target: 0 }),
      async () => {
        for await (const _ of closed.run(plan)) void _;
      },
    ]) {
      expect(await thrown(call)).toMatchObject({ code: 'SERVICE_CLOSED', message: expect.stringMatching(/the service is closed; open a new one with DemoService\.load/) });
    }
  });
});

describe('the CLI: numbers, repeated and conflicting flags, index names (issue 23, items 8 and 14)', () => {
  const dir = tempDir();
  const never = join(dir, 'never');
  const source = ['--corpus', 'jsonl', '--data', SAMPLE_CORPUS, '--corpus-name', 'sample'];

  /** Runs erc-demos expecting a refusal before any work: exit 2, the message, nothing written. */
  async function refused(args: string[], message: RegExp | string, env?: NodeJS.ProcessEnv): Promise<void> {
    const run = await cliAsync(args, 60_000, env ? { ...process.env, ...env } : process.env);
    expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(2);
    if (typeof message === 'string') expect(run.stderr).toContain(message);
    else expect(run.stderr).toMatch(message);
    expect(run.stderr).not.toMatch(/embedding \(|dialogues, \d+ utterances/);
    expect(existsSync(never)).toBe(false);
  }

  it('a single-valued option given twice is an error naming it; repeatable ones still add up', async () => {
    await refused(['build', ...source, '--out', never, '--out', join(dir, 'other')], `erc-demos: invalid out: given twice ("${never}", then "${join(dir, 'other')}"): give it once`);
    await refused(['build', '--corpus', 'meld', '--corpus', 'jsonl', '--data', SAMPLE_CORPUS, '--out', never], 'erc-demos: invalid corpus: given twice ("meld", then "jsonl")');
    await refused(['build', ...source, '--out', never, '--batch-size', '8', '--batch-size', '16'], 'invalid batch-size: given twice');
    await refused(['query', '--index', never, '-k', '2', '--k', '3', 'hi'], 'invalid k: given twice ("2", then "3")');
    await refused(['prompts', '--index', never, ...source, '--split', 'train', '--split', 'test', '--out', `${never}.jsonl`], 'invalid split: given twice');
    await refused(['serve', '--index', never, '--port', '1', '--port', '2'], 'invalid port: given twice');
    // --source (like --split of build and --index of serve) adds up: two of them reach the check of the pool itself.
    await refused(['build', '--source', `jsonl:${SAMPLE_CORPUS}:sample`, '--source', `jsonl:${SAMPLE_CORPUS}:sample`, '--out', never], 'invalid source: two sources are named "sample"');
  });

  it('conflicting options are an error naming both', async () => {
    await refused(['build', ...source, '--out', never, '--projection', 'none', '--lda-blend', '0.3'], 'erc-demos: invalid lda-blend: --lda-blend forces LDA, which contradicts --projection none');
    await refused(['build', ...source, '--out', never, '--projection', 'auto', '--lda-shrinkage', '0.2'], 'invalid lda-shrinkage: --lda-shrinkage forces LDA, which contradicts --projection auto');
    await refused(['prompts', '--index', never, ...source, '--format', 'alpaca', '--format-file', join(dir, 'f.json'), '--out', `${never}.jsonl`], /option '--format-file <json>' cannot be used with option '--format <name>'/);
    await refused(['build', '--source', `jsonl:${SAMPLE_CORPUS}:sample`, '--corpus-name', 'iemocap', '--out', never], /option '--corpus-name <name>' cannot be used with option '--source/);
  });

  it('an empty index name is refused with a clear message', async () => {
    await refused(['build', ...source, '--out', never, '--name', ''], 'erc-demos: invalid name: an index name must not be empty (got "")');
    await refused(['build', ...source, '--out', never, '--name', ' a'], 'invalid name: an index name must not begin or end with spaces');
    await refused(['serve', '--index', `=${never}`], `erc-demos: invalid index: "=${never}": the name before "=" is empty`);
    await refused(['serve', '--index', 'a='], 'invalid index: "a=": the directory after "=" is empty');
    await refused(['query', '--index', `=${never}`, 'hi'], 'the name before "=" is empty');
    await refused(['eval', '--index', '', ...source], 'invalid index: must name an index directory');
  });

  it('numeric flags and PORT are read by the strict rule, each error naming the flag or variable', async () => {
    await refused(['prompts', '--index', never, ...source, '--window', '', '--out', `${never}.jsonl`], 'erc-demos: invalid window: must be an integer between 0 and 1000, got an empty value');
    await refused(['prompts', '--index', never, ...source, '-k', '0x5', '--out', `${never}.jsonl`], 'invalid k: must be an integer between 0 and 100 (plain digits), got "0x5"');
    await refused(['prompts', '--index', never, ...source, '--lambda', '1e-1', '--out', `${never}.jsonl`], 'invalid lambda: must be a number between 0 and 1 (plain digits with at most one point), got "1e-1"');
    // query's flags are read by the HTTP door's schema, whose messages do not repeat the value.
    await refused(['query', '--index', never, '-k', '1e1', 'hi'], 'invalid k: must be an integer between 1 and 100');
    await refused(['query', '--index', never, '--lambda', '', 'hi'], 'invalid lambda: must be a number between 0 and 1');
    await refused(['build', ...source, '--out', never, '--m', '+5'], 'invalid m: must be an integer, at least 1 (plain digits), got "+5"');
    await refused(['build', ...source, '--out', never, '--lda-blend', '1'], 'invalid lda-blend: must be at least 0 and below 1');
    await refused(['build', ...source, '--out', never, '--seed', '0b1', '--fraction', '1/2'], 'invalid seed: must be an integer, at least 0 (plain digits), got "0b1"');
    await refused(['eval', '--index', never, ...source, '-k', ' 3'], 'invalid k: must be an integer, at least 1 (plain digits), got " 3"');
    await refused(['serve', '--index', never, '--port', 'abc'], 'invalid port: must be an integer between 0 and 65535 (plain digits), got "abc"');
    await refused(['serve', '--index', never, '--host', ''], 'invalid host: must be an address or host name');
    // The environment's PORT is a setting: exit 1, naming the variable.
    for (const [value, shown] of [['abc', 'PORT=abc: must be an integer between 0 and 65535'], ['', 'PORT="": must be an integer between 0 and 65535']]) {
      const run = await cliAsync(['serve', '--index', never], 60_000, { ...process.env, PORT: value });
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toContain(`erc-demos: ${shown}`);
    }
    // Commander's own usage errors exit 2 as well; help exits 0.
    const choice = await cliAsync(['build', '--corpus', 'csv', '--data', dir, '--out', never]);
    expect(choice.code).toBe(2);
    expect((await cliAsync(['build', '--help'])).code).toBe(0);
  });
});
