import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { startServeProcess, type ServeProcess } from './support/serve-process.js';
import { BIN, cliAsync, tempDir } from './helpers.js';

/** Threads and resident memory of a process, from /proc. */
function usage(pid: number): { threads: number; rssMb: number } {
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { threads: readdirSync(`/proc/${pid}/task`).length, rssMb: Number(rss?.[1] ?? 0) / 1024 };
}

/** Resolves once stderr has `pattern` `count` times in all (rejects after `ms`). */
function waitFor(serve: ServeProcess, pattern: RegExp, count: number, ms = 60_000): Promise<void> {
  const started = Date.now();
  return new Promise((resolveWait, reject) => {
    const poll = () => {
      const seen = serve.stderr().match(new RegExp(pattern.source, 'g'))?.length ?? 0;
      if (seen >= count) return resolveWait();
      if (Date.now() - started > ms) return reject(new Error(`waited for ${count} x ${pattern}; stderr: ${serve.stderr().slice(-1500)}`));
      setTimeout(poll, 20);
    };
    poll();
  });
}

const HAVE_PROC = (() => {
  try {
    return readdirSync(`/proc/${process.pid}/task`).length > 0;
  } catch {
    return false;
  }
})();

/**
 * SIGHUP reopens the indexes on the embedder threads already running: reloads are routine (a rebuilt index, and live
 * writes next), and each used to start a new embedder pool whose threads cannot be ended, 60-130 MB each (issue 23, item 3).
 */
describe.skipIf(!HAVE_PROC)('serve: SIGHUP reloads', () => {
  const dir = tempDir('erc-reload-');
  const index = join(dir, 'sample');

  beforeAll(async () => {
    const built = await cliAsync(['build', '--corpus', 'jsonl', '--data', SAMPLE_CORPUS, '--corpus-name', 'sample', '--projection', 'none', '--out', index]);
    expect(built.code, built.stderr).toBe(0);
  });

  it('reuse the embedder threads: after 10 reloads as many threads as after the first, and RSS within 100 MB', async () => {
    const serve = await startServeProcess([BIN, 'serve', '--index', index, '--port', '0']);
    try {
      const pid = serve.child.pid!;
      serve.child.kill('SIGHUP');
      await waitFor(serve, /SIGHUP: reopened/, 1);
      const first = usage(pid);
      for (let n = 2; n <= 10; n++) {
        serve.child.kill('SIGHUP');
        await waitFor(serve, /SIGHUP: reopened/, n);
      }
      // The old generations are closed once idle; give the collector a moment.
      await new Promise((r) => setTimeout(r, 500));
      const after = usage(pid);
      expect(after.threads).toBe(first.threads);
      expect(after.rssMb - first.rssMb).toBeLessThan(100);
      const answer = await fetch(`${serve.url}/demonstrations?utterance=hello&k=2`);
      expect(answer.status).toBe(200);
      expect((await answer.json()).demonstrations).toHaveLength(2);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  });

  it('a reload after writes ends the old write log\'s commit thread: 10 write-then-reload rounds leave as many threads as one', async () => {
    const key = randomBytes(32).toString('base64url');
    const keysFile = join(dir, 'keys.json');
    writeFileSync(keysFile, JSON.stringify({ keys: [{ name: 'ops', scope: 'write', sha256: createHash('sha256').update(key).digest('hex') }] }));
    const serve = await startServeProcess([BIN, 'serve', '--index', index, '--port', '0', '--keys', keysFile]);
    const labels = ['joy', 'anger'];
    try {
      const pid = serve.child.pid!;
      const round = async (n: number) => {
        // Each generation's first write starts its commit thread; the reload must end it.
        const res = await fetch(`${serve.url}/indexes/sample/dialogues/train%2Fs01/turns/0`, {
          method: 'PATCH', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ label: labels[n % 2] }),
        });
        expect(res.status, await res.text()).toBe(200);
        serve.child.kill('SIGHUP');
        await waitFor(serve, /SIGHUP: reopened/, n);
      };
      await round(1);
      await new Promise((r) => setTimeout(r, 500));
      const first = usage(pid);
      for (let n = 2; n <= 10; n++) await round(n);
      await new Promise((r) => setTimeout(r, 500));
      expect(usage(pid).threads).toBe(first.threads);
      const listed = (await (await fetch(`${serve.url}/indexes`, { headers: { authorization: `Bearer ${key}` } })).json()) as { indexes: { written: { seq: number } }[] };
      expect(listed.indexes[0].written.seq).toBe(10);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  });

  it('a SIGHUP while starting does not kill serve: it is answered by a reopening once serving', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [BIN, 'serve', '--index', index, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    const serve: ServeProcess = { child, url: '', stderr: () => stderr, exited };
    let signalled = false;
    child.stderr.on('data', (c: Buffer) => {
      stderr += c;
      // The first line says the service is starting (its SIGHUP handler is in place); it opens the index after it.
      if (!signalled && /starting: opening/.test(stderr)) {
        signalled = true;
        child.kill('SIGHUP');
      }
    });
    try {
      await waitFor(serve, /listening on http/, 1);
      await waitFor(serve, /SIGHUP: reopened/, 1);
      expect(stderr).toMatch(/SIGHUP: still starting/);
      expect(child.exitCode).toBe(null);
    } finally {
      child.kill('SIGTERM');
      const { code, signal } = await exited;
      expect([code, signal]).toEqual([0, null]);
    }
  });
});
