import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// The Python client's own tests (clients/python/tests, python3 -m unittest discover: every test_*.py there): against a
// real `erc-demos serve` that they start on loopback with this Node (reads; API keys; live writes with a write key and
// a read key: test_live_writes.py), against tiny local HTTP servers for retries (a write's only when it cannot have
// been done) and stream reading, and against raw loopback servers that misbehave (trickle bytes, send what is not
// HTTP, close early, send huge bodies or one huge streamed result: test_hostile_servers.py).
const ROOT = resolve(__dirname, '..');
const CLIENT = join(ROOT, 'clients', 'python');
const version = spawnSync('python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' });
const [major, minor] = (version.stdout ?? '').trim().split('.').map(Number);
const PYTHON_SKIP = version.error || version.status !== 0
  ? 'python3 not found: the Python client tests are skipped'
  : major < 3 || (major === 3 && minor < 9) ? `python3 is ${version.stdout.trim()}, the client needs 3.9 or later: its tests are skipped` : '';
if (PYTHON_SKIP) console.warn(`[erc-demos tests] ${PYTHON_SKIP}`);

/** The number of test methods the files define: all of them must run, none skipped. */
function testsDefined(): number {
  const dir = join(CLIENT, 'tests');
  return readdirSync(dir)
    .filter((f) => /^test_.*\.py$/.test(f))
    .reduce((n, f) => n + (readFileSync(join(dir, f), 'utf8').match(/^ {4}def test_\w+\(/gm) ?? []).length, 0);
}

function unittest(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolveRun) => {
    const child = spawn('python3', ['-m', 'unittest', 'discover', '-s', 'clients/python/tests', '-v'], {
      cwd: ROOT,
      env: { ...process.env, PYTHONPATH: join(CLIENT, 'src'), ERC_DEMOS_NODE: process.execPath, PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 400_000,
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('close', (code) => resolveRun({ code, output }));
  });
}

describe('Python client (clients/python)', () => {
  it.skipIf(PYTHON_SKIP !== '')('passes its unittest suite against a live erc-demos serve', async () => {
    const expected = testsDefined();
    expect(expected).toBeGreaterThanOrEqual(20);
    const { code, output } = await unittest();
    const ran = /^Ran (\d+) tests? in /m.exec(output);
    expect(code, output).toBe(0);
    expect(Number(ran?.[1]), output).toBe(expected);
    expect(output, 'no test may be skipped').toMatch(/^OK$/m);
    console.log(`[erc-demos tests] Python client: ran ${ran?.[1]} of ${expected} tests, OK`);
  }, 420_000);
});
