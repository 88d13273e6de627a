import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_SETTINGS } from '../src/settings.js';

// No Docker engine runs here: these checks parse the files and hold them to the repository they copy from, and
// docker-compose.yml to deploy/nginx.conf (which test/replicas.test.ts runs for real on loopback).
const ROOT = resolve(__dirname, '..');

interface Service {
  build?: string; image?: string; ports?: string[]; environment?: Record<string, string>; volumes?: string[];
  stop_grace_period?: string; healthcheck?: { test: string[] }; depends_on?: Record<string, { condition: string }>;
}

describe('Dockerfile, docker-compose.yml and deploy/nginx.conf (parsed, not run)', () => {
  const dockerfile = readFileSync(resolve(ROOT, 'Dockerfile'), 'utf8');
  const compose = parse(readFileSync(resolve(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
  const nginx = readFileSync(resolve(ROOT, 'deploy', 'nginx.conf'), 'utf8');
  const replicas = Object.entries(compose.services).filter(([name]) => name.startsWith('erc-demos-'));

  it('the Dockerfile copies paths that exist, builds with npm ci, keeps production dependencies and runs the CLI serve command', () => {
    // From the build context only: COPY --from=<stage> copies what an earlier stage made.
    const copies = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1].split(/\s+/));
    expect(copies.length).toBeGreaterThan(3);
    for (const path of copies) expect(existsSync(resolve(ROOT, path)), path).toBe(true);
    // The build stage installs everything (npm ci runs the package build), then prunes the dev dependencies.
    expect(dockerfile).toMatch(/^RUN npm ci --no-audit/m);
    expect(dockerfile).toMatch(/^RUN npm prune --omit=dev/m);
    const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.prepare).toBe('npm run build');
    for (const from of ['node_modules', 'dist']) expect(dockerfile).toContain(`COPY --from=build /app/${from} ./${from}`);
    expect(dockerfile).toMatch(/^CMD \["node", "bin\/erc-demos\.mjs", "serve"\]$/m);
    expect(dockerfile).toMatch(/^EXPOSE 8080$/m);
    expect(dockerfile).toMatch(/HOST=0\.0\.0\.0/);
  });

  it('two replicas build this directory, mount data read-only, share ./indexes and report health from /healthz', () => {
    expect(replicas.map(([name]) => name)).toEqual(['erc-demos-1', 'erc-demos-2']);
    for (const [, service] of replicas) {
      expect(service.build).toBe('.');
      expect(service.environment!.PORT).toBe('8080');
      expect(service.environment!.ERC_DEMOS_MELD_DIR).toBe('/data/meld');
      expect(service.volumes!.some((v) => v.endsWith(':/data:ro'))).toBe(true);
      expect(service.volumes).toContain('./indexes:/app/indexes');
      expect(service.healthcheck!.test.join(' ')).toContain('http://127.0.0.1:8080/healthz');
      // Longer than the drain deadline, or Docker kills a replica mid-drain.
      const deadlineMs = Number(service.environment!.ERC_DEMOS_SHUTDOWN_TIMEOUT_MS ?? DEFAULT_SETTINGS.shutdownTimeoutMs);
      expect(Number(service.stop_grace_period!.match(/^(\d+)s$/)![1]) * 1000).toBeGreaterThan(deadlineMs + 1000);
    }
    // The second waits for the first, which builds the shared default index.
    expect(compose.services['erc-demos-2'].depends_on).toEqual({ 'erc-demos-1': { condition: 'service_healthy' } });
  });

  it('nginx publishes the port, mounts deploy/nginx.conf, and that file routes to exactly the replicas', () => {
    const front = compose.services.nginx;
    expect(front.ports).toEqual(['8080:8080']);
    expect(front.volumes).toContain('./deploy/nginx.conf:/etc/nginx/nginx.conf:ro');
    expect(Object.keys(front.depends_on!).sort()).toEqual(replicas.map(([name]) => name));
    const upstreams = [...nginx.matchAll(/^\s*server ([\w-]+):(\d+) /gm)].map((m) => `${m[1]}:${m[2]}`);
    expect(upstreams).toEqual(replicas.map(([name, s]) => `${name}:${s.environment!.PORT}`));
    expect(nginx).toMatch(/^\s*listen 8080;$/m);
    expect(nginx).toMatch(/proxy_next_upstream error timeout http_502 http_503 non_idempotent;/);
  });
});
