import { cpSync, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbedder } from '../src/embed/create.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { DEFAULT_SETTINGS } from '../src/settings.js';
import { cliAsync, cosine, ST_FIXTURES as FIXTURES, tempDir } from './helpers.js';


/**
 * The hub's URL layout on loopback: GET /{owner}/{name}/resolve/{revision}/{file} answers the file of a folder under
 * `root` (a Range request of the first byte, how the library asks whether a file exists, gets a 206), else 404.
 */
function hubServer(root: string, requests: string[]): Server {
  return createServer((req, res) => {
    const url = decodeURIComponent(new URL(req.url ?? '/', 'http://hub').pathname);
    requests.push(url);
    const match = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url);
    const path = match && match[2] === 'main' ? join(root, match[1], match[3]) : undefined;
    if (!path || !path.startsWith(root) || !existsSync(path) || !statSync(path).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Entry not found');
      return;
    }
    const bytes = readFileSync(path);
    if (req.headers.range === 'bytes=0-0') {
      res.writeHead(206, { 'content-range': `bytes 0-0/${bytes.length}`, 'content-length': '1' }).end(bytes.subarray(0, 1));
      return;
    }
    res.writeHead(200, { 'content-length': String(bytes.length), 'content-type': 'application/octet-stream' }).end(bytes);
  });
}

describe('a hub id, downloaded by transformers.js from a loopback hub (ERC_DEMOS_ALLOW_REMOTE_MODELS=1)', () => {
  const dir = tempDir('erc-hub-');
  const root = join(dir, 'hub');
  const cache = join(dir, 'cache');
  const requests: string[] = [];
  let server: Server;
  let host = '';
  const env = (over: Record<string, string> = {}) => ({
    ...process.env, ERC_DEMOS_ALLOW_REMOTE_MODELS: '1', ERC_DEMOS_MODEL_CACHE: cache, ERC_DEMOS_MODEL_HOST: host, ...over,
  });

  beforeAll(async () => {
    // Two repositories: a sentence-transformers export as the hub holds it, and one without its tokenizer.json.
    cpSync(join(FIXTURES, 'cls-normalize'), join(root, 'erc-test', 'cls-normalize'), { recursive: true });
    cpSync(join(FIXTURES, 'cls-normalize'), join(root, 'erc-test', 'no-tokenizer'), { recursive: true });
    rmSync(join(root, 'erc-test', 'no-tokenizer', 'tokenizer.json'));
    server = hubServer(root, requests).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    host = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it('builds an index from the hub id: the model lands in the cache, a second build reads it with the hub gone', async () => {
    const out = join(dir, 'index');
    const built = await cliAsync(['build', '--corpus', 'jsonl', '--corpus-name', 'sample', '--data', SAMPLE_CORPUS, '--projection', 'none',
      '--embedder', 'transformers:erc-test/cls-normalize', '--out', out], 300_000, env());
    expect(built.code, built.stderr).toBe(0);
    const folder = join(cache, 'erc-test', 'cls-normalize');
    expect(built.stderr).toContain(`loaded ${join(folder, 'onnx', 'model.onnx')}`);
    expect(built.stderr).toContain('sentence-transformers config: cls pooling, normalized, 128 tokens');
    for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx', 'modules.json', '1_Pooling/config.json', 'sentence_bert_config.json', 'config_sentence_transformers.json']) {
      expect(readFileSync(join(folder, file)), file).toEqual(readFileSync(join(FIXTURES, 'cls-normalize', file)));
      expect(requests, file).toContain(`/erc-test/cls-normalize/resolve/main/${file}`);
    }
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { embedder: { id: string; fingerprint: { model: string } } };
    expect(manifest.embedder.id).toBe('transformers:erc-test/cls-normalize');
    expect(manifest.embedder.fingerprint.model).toBe('onnx/model.onnx');

    // The cached model gives sentence-transformers' encode() vectors, on the worker pool as in the thread.
    const reference = JSON.parse(readFileSync(join(FIXTURES, 'cls-normalize', 'reference.json'), 'utf8')) as { texts: string[]; batch: number[][] };
    const settings = { ...DEFAULT_SETTINGS, allowRemoteModels: '1', modelCache: cache, modelHost: host };
    for (const embedThreads of ['2', '0']) {
      const embedder = await createEmbedder('transformers:erc-test/cls-normalize', 'batch', { ...settings, embedThreads });
      (await embedder.embed(reference.texts)).forEach((v, i) => expect(cosine(v, reference.batch[i])).toBeGreaterThan(0.9999));
      await embedder.close?.();
    }

    // The hub gone (a port nothing listens on), the second build and a query read the cache alone.
    const seen = requests.length;
    const offline = env({ ERC_DEMOS_MODEL_HOST: 'http://127.0.0.1:9/' });
    const again = await cliAsync(['build', '--corpus', 'jsonl', '--corpus-name', 'sample', '--data', SAMPLE_CORPUS, '--projection', 'none',
      '--embedder', 'transformers:erc-test/cls-normalize', '--out', join(dir, 'index2')], 300_000, offline);
    expect(again.code, again.stderr).toBe(0);
    const queried = await cliAsync(['query', '--index', out, '-k', '1', 'Guess what? I got the job!'], 120_000, offline);
    expect(queried.code, queried.stderr).toBe(0);
    expect((JSON.parse(queried.stdout) as { demonstrations: { text: string }[] }).demonstrations[0].text).toBe('Guess what? I got the job!');
    expect(requests.length).toBe(seen);
  }, 600_000);

  it('a file the hub lacks is an error naming it: a graph for --dtype q8, a tokenizer', async () => {
    const q8 = await cliAsync(['build', '--corpus', 'jsonl', '--corpus-name', 'sample', '--data', SAMPLE_CORPUS, '--projection', 'none',
      '--embedder', 'transformers:erc-test/cls-normalize', '--dtype', 'q8', '--out', join(dir, 'q8')], 300_000, env());
    expect(q8.code).not.toBe(0);
    expect(q8.stderr).toMatch(/downloading erc-test\/cls-normalize from http:\/\/127\.0\.0\.1:\d+\/: .*erc-test\/cls-normalize\/resolve\/main\/onnx\/model_quantized\.onnx/);
    const settings = { ...DEFAULT_SETTINGS, allowRemoteModels: '1', modelCache: cache, modelHost: host };
    await expect(createEmbedder('transformers:erc-test/no-tokenizer', 'batch', settings)).rejects.toThrow(/downloading erc-test\/no-tokenizer from .*resolve\/main\/tokenizer\.json/);
    expect(existsSync(join(cache, 'erc-test', 'no-tokenizer', '.complete-fp32'))).toBe(false);
    // Remote loading off: a hub id is refused before anything is fetched.
    const seen = requests.length;
    await expect(createEmbedder('transformers:erc-test/other', 'batch', { ...settings, allowRemoteModels: '0' })).rejects.toThrow(/remote loading is off/);
    expect(requests.length).toBe(seen);
  }, 300_000);
});
