import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_SETTINGS } from '../src/settings.js';

// No Docker engine runs here: these checks parse the files and hold them to the repository they copy from.
const ROOT = resolve(__dirname, '..');

describe('Dockerfile and docker-compose.yml (parsed, not run)', () => {
  const dockerfile = readFileSync(resolve(ROOT, 'Dockerfile'), 'utf8');
  const compose = parse(readFileSync(resolve(ROOT, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, { build: string; ports: string[]; environment: Record<string, string>; volumes: string[]; stop_grace_period: string }>;
  };

  it('the Dockerfile copies paths that exist, installs with npm ci and runs the CLI serve command', () => {
    const copies = [...dockerfile.matchAll(/^COPY (.+) \S+$/gm)].flatMap((m) => m[1].split(/\s+/));
    expect(copies.length).toBeGreaterThan(3);
    for (const path of copies) expect(existsSync(resolve(ROOT, path)), path).toBe(true);
    expect(dockerfile).toMatch(/^RUN npm ci --omit=dev/m);
    expect(dockerfile).toMatch(/^CMD \["node", "bin\/erc-demos\.mjs", "serve"\]$/m);
    expect(dockerfile).toMatch(/^EXPOSE 8080$/m);
    expect(dockerfile).toMatch(/HOST=0\.0\.0\.0/);
  });

  it('compose builds this directory, publishes the exposed port and mounts data read-only', () => {
    const service = compose.services['erc-demos'];
    expect(service.build).toBe('.');
    expect(service.ports).toEqual(['8080:8080']);
    expect(service.environment.PORT).toBe('8080');
    expect(service.environment.ERC_DEMOS_MELD_DIR).toBe('/data/meld');
    expect(service.volumes.some((v) => v.endsWith(':/data:ro'))).toBe(true);
  });

  it('compose gives serve longer than its shutdown deadline before killing it', () => {
    const service = compose.services['erc-demos'];
    const deadlineMs = Number(service.environment.ERC_DEMOS_SHUTDOWN_TIMEOUT_MS ?? DEFAULT_SETTINGS.shutdownTimeoutMs);
    const grace = service.stop_grace_period.match(/^(\d+)s$/);
    expect(grace).not.toBeNull();
    expect(Number(grace![1]) * 1000).toBeGreaterThan(deadlineMs + 1000);
  });
});
