import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const ROOT = resolve(__dirname, '..');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; devDependencies: Record<string, string> };
/**
 * The install line the README gives: the one setting a plain install needs, onnxruntime-node's CUDA download off, in
 * the environment variable its install script reads (not an npm setting: npm 11 warns of unknown ones).
 */
const INSTALL_ENV = { ONNXRUNTIME_NODE_INSTALL: 'skip' };
const README_INSTALL = `ONNXRUNTIME_NODE_INSTALL=skip npm install ./${PKG.name}-${PKG.version}.tgz`;

/**
 * A command run to completion without blocking this worker (a long spawnSync starves vitest's messages), in an
 * environment without the checkout's npm settings (npm passes the checkout's .npmrc down as npm_config_*).
 */
function run(command: string, args: readonly string[], cwd: string, timeoutMs = 600_000, extraEnv: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_config_') && !key.startsWith('ONNXRUNTIME_NODE_INSTALL'))),
    ...extraEnv,
  };
  return new Promise((resolveRun) => {
    const child = spawn(command, args, { cwd, env, timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('close', (code) => resolveRun({ code, out }));
  });
}

/**
 * As a user installs it: `npm pack`, then the tarball installed into an empty project with only the package registry
 * reachable; there the CLI builds an index and a strict TypeScript program imports the library, with no checkout and
 * no tsx.
 */
describe('the packed package, installed into an empty project', () => {
  const dir = tempDir('erc-demos-pack-');

  it('packs only what users need, installs, runs its CLI and type-checks and runs an importing program', async () => {
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT);
    expect(packed.code, packed.out).toBe(0);
    const [{ filename, files }] = JSON.parse(packed.out.slice(packed.out.indexOf('['), packed.out.lastIndexOf(']') + 1)) as { filename: string; files: { path: string }[] }[];
    const paths = files.map((f) => f.path);
    for (const needed of ['bin/erc-demos.mjs', 'dist/index.js', 'dist/index.d.ts', 'dist/langchain.js', 'dist/cli/main.js', 'dist/embed/embed-worker.mjs', 'dist/writes/commit-worker.mjs', 'dist/server/page/index.html', 'data/sample/sample.jsonl', 'package.json', 'README.md']) {
      expect(paths, needed).toContain(needed);
    }
    expect(paths.filter((p) => /^(src|test|scripts|docs|clients|deploy|indexes)\//.test(p) || p.includes('.tsbuildinfo'))).toEqual([]);

    const project = join(dir, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-erc-demos', version: '1.0.0', private: true, type: 'module' }));
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain(README_INSTALL);
    const installed = await run('npm', ['install', join(dir, filename), '--no-audit', '--no-fund'], project, 600_000, INSTALL_ENV);
    expect(installed.code, installed.out).toBe(0);
    // Nothing of this package's making to warn about: no npm setting npm does not know (the install line has none;
    // npm 11 warns of them, and says a later npm will ignore them), and no dependency whose engines exclude this Node
    // (zod-openapi 6 asked for 22.14; 5.4 runs on 20 and writes the same document).
    expect(installed.out).not.toMatch(/Unknown (?:cli|env|project|user|global|builtin) config/i);
    expect(installed.out).not.toMatch(/EBADENGINE/);
    expect(existsSync(join(project, 'node_modules', 'tsx'))).toBe(false);
    // The CPU binaries onnxruntime-node ships are there; the CUDA provider it would download is not.
    const ortBin = join(project, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64');
    expect(existsSync(join(ortBin, 'libonnxruntime.so.1'))).toBe(true);
    expect(existsSync(join(ortBin, 'libonnxruntime_providers_cuda.so'))).toBe(false);
    // One onnxruntime-node for the process: the one transformers.js requires, not a second copy of its own.
    expect((JSON.parse(readFileSync(join(project, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')) as { version: string }).version).toBe('1.30.0');
    expect(existsSync(join(project, 'node_modules', '@huggingface', 'transformers', 'node_modules', 'onnxruntime-node'))).toBe(false);

    const index = join(project, 'idx');
    const built = await run(join(project, 'node_modules', '.bin', 'erc-demos'), ['build', '--corpus', 'jsonl', '--corpus-name', 'sample', '--data', join(project, 'node_modules', PKG.name, 'data', 'sample', 'sample.jsonl'), '--projection', 'none', '--out', index], project);
    expect(built.code, built.out).toBe(0);
    expect(readdirSync(index)).toContain('manifest.json');

    // The program's own tools (typescript, Node's types), as any TypeScript project has them.
    const tools = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', `typescript@${PKG.devDependencies.typescript}`, `@types/node@${PKG.devDependencies['@types/node']}`], project);
    expect(tools.code, tools.out).toBe(0);
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', types: ['node'], skipLibCheck: false, noEmit: false }, files: ['main.ts'] }));
    writeFileSync(join(project, 'main.ts'), [
      "import { DemoService, type Demonstration } from 'erc-demos';",
      'const service = await DemoService.load([process.argv[2]]);',
      "const { demonstrations } = await service.demonstrations({ utterance: 'Guess what? I got the job!', k: 3 });",
      'const first: Demonstration = demonstrations[0];',
      'console.log(JSON.stringify({ n: demonstrations.length, text: first.text, label: first.label }));',
      'await service.close();',
      '',
    ].join('\n'));
    const compiled = await run(process.execPath, [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], project);
    expect(compiled.code, compiled.out).toBe(0);
    const ran = await run(process.execPath, [join(project, 'main.js'), index], project);
    expect(ran.code, ran.out).toBe(0);
    expect(JSON.parse(ran.out.trim().split('\n')[0])).toEqual({ n: 3, text: 'Guess what? I got the job!', label: 'joy' });
  }, 1_200_000);
});
