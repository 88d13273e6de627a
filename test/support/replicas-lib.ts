/**
 * Runs deploy/nginx.conf on loopback in front of local replicas, for test/replicas.test.ts and scripts/reliability/replicas.ts:
 * the shipped file itself, with only the upstream addresses, the listen address and nginx's own paths swapped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join, resolve } from 'node:path';

export const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
export const NGINX_CONF = resolve(import.meta.dirname, '..', '..', 'deploy', 'nginx.conf');

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((done) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

/** The shipped config, pointed at loopback replicas, listening on `port`, with every path inside `dir`. */
export function loopbackConfig(upstreamPorts: readonly number[], port: number, dir: string): string {
  let conf = readFileSync(NGINX_CONF, 'utf8');
  const servers = [...conf.matchAll(/^\s*server erc-demos-\d+:8080(.*);$/gm)];
  if (servers.length < 1) throw new Error('deploy/nginx.conf: no "server erc-demos-N:8080" lines in the upstream');
  const params = servers[0][1];
  conf = conf.replace(/^(\s*)server erc-demos-1:8080.*;$/m, (_m, indent: string) => upstreamPorts.map((p) => `${indent}server 127.0.0.1:${p}${params};`).join('\n'));
  conf = conf.replace(/^\s*server erc-demos-\d+:8080.*;\n/gm, '');
  conf = conf.replace(/listen 8080;/, `listen 127.0.0.1:${port};`);
  conf = conf.replace(/^pid .*;$/m, `pid ${join(dir, 'nginx.pid')};`);
  conf = conf.replace(/^error_log .*;$/m, `error_log ${join(dir, 'error.log')} warn;`);
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(dir, t)};`).join('\n');
  return conf.replace(/^http \{$/m, `http {\n${temps}`);
}

/** Starts nginx on a loopback config; resolves once it accepts connections. */
export async function startNginx(conf: string, dir: string, port: number): Promise<ChildProcess> {
  if (!NGINX) throw new Error('nginx not found');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  const child = spawn(NGINX, ['-c', file, '-p', dir, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c));
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${err}${existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : ''}`);
    const up = await new Promise<boolean>((done) => {
      const s = connect(port, '127.0.0.1', () => (s.destroy(), done(true)));
      s.on('error', () => done(false));
    });
    if (up) return child;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill();
  throw new Error(`nginx did not listen on ${port}: ${err}`);
}
