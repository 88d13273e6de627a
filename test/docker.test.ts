import { existsSync, readFileSync } from 'node:fs';
import { posix, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_INDEX_DIR, PACKAGE_ROOT } from '../src/paths.js';
import { DEFAULT_SETTINGS } from '../src/settings.js';

// No Docker engine runs here: these checks parse the files and hold them to the repository they copy from, and
// docker-compose.yml to deploy/nginx.conf (which test/replicas.test.ts runs for real on loopback).
const ROOT = resolve(__dirname, '..');

interface Service {
  build?: string; image?: string; ports?: string[]; environment?: Record<string, string>; volumes?: string[];
  stop_grace_period?: string; healthcheck?: { test: string[] }; depends_on?: Record<string, { condition: string }>;
  user?: string; read_only?: boolean; tmpfs?: string[]; cap_drop?: string[]; security_opt?: string[]; secrets?: string[];
}

/** The instructions of a Dockerfile stage, continuation lines joined: [instruction, arguments]. */
function instructions(stage: string): [string, string][] {
  return stage.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
    .map((l) => { const [op, ...rest] = l.split(/\s+/); return [op.toUpperCase(), rest.join(' ')]; });
}

describe('Dockerfile, docker-compose.yml and deploy/nginx.conf (parsed, not run)', () => {
  const dockerfile = readFileSync(resolve(ROOT, 'Dockerfile'), 'utf8');
  const compose = parse(readFileSync(resolve(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes?: Record<string, unknown>; secrets?: Record<string, { file?: string }> };
  const nginx = readFileSync(resolve(ROOT, 'deploy', 'nginx.conf'), 'utf8');
  const replicas = Object.entries(compose.services).filter(([name]) => name.startsWith('erc-demos-'));

  it('the Dockerfile copies paths that exist, builds with npm ci, keeps production dependencies and runs the CLI serve command', () => {
    // From the build context only: COPY --from=<stage> copies what an earlier stage made.
    const copies = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1].split(/\s+/));
    expect(copies.length).toBeGreaterThan(3);
    for (const path of copies) expect(existsSync(resolve(ROOT, path)), path).toBe(true);
    // The build stage installs everything (npm ci runs the package build), then prunes the dev dependencies.
    expect(dockerfile).toMatch(/^RUN npm ci --no-audit/m);
    // onnxruntime-node's install script would download its CUDA provider (and fail where that host is unreachable):
    // the image's npm 10 does not read package.json's allowScripts, so the variable the script reads says skip.
    const build = instructions(dockerfile.slice(0, dockerfile.lastIndexOf('\nFROM ')));
    const skip = build.findIndex(([op, arg]) => op === 'ENV' && /(^|\s)ONNXRUNTIME_NODE_INSTALL=skip(\s|$)/.test(arg));
    expect(skip).toBeGreaterThanOrEqual(0);
    expect(skip).toBeLessThan(build.findIndex(([op, arg]) => op === 'RUN' && arg.startsWith('npm ci')));
    expect(dockerfile).toMatch(/^RUN npm prune --omit=dev/m);
    const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.prepare).toBe('npm run build');
    for (const from of ['node_modules', 'dist']) expect(dockerfile).toContain(`COPY --from=build /app/${from} ./${from}`);
    expect(dockerfile).toMatch(/^CMD \["node", "bin\/erc-demos\.mjs", "serve"\]$/m);
    expect(dockerfile).toMatch(/^EXPOSE 8080$/m);
    expect(dockerfile).toMatch(/HOST=0\.0\.0\.0/);
    // Transparent huge pages for glibc's large allocations (the graph's read at 1M rows), in the image as in npm start.
    const runtime = instructions(dockerfile.slice(dockerfile.lastIndexOf('\nFROM ')));
    expect(runtime.some(([op, arg]) => op === 'ENV' && /(^|\s)GLIBC_TUNABLES=glibc\.malloc\.hugetlb=1(\s|$)/.test(arg))).toBe(true);
    expect(pkg.scripts.start).toBe('GLIBC_TUNABLES=${GLIBC_TUNABLES:-glibc.malloc.hugetlb=1} node bin/erc-demos.mjs serve');
  });

  it('two replicas build this directory, mount data read-only, share the index volume and report health from /healthz', () => {
    expect(replicas.map(([name]) => name)).toEqual(['erc-demos-1', 'erc-demos-2']);
    for (const [, service] of replicas) {
      expect(service.build).toBe('.');
      expect(service.environment!.PORT).toBe('8080');
      expect(service.environment!.ERC_DEMOS_MELD_DIR).toBe('/data/meld');
      expect(service.volumes!.some((v) => v.endsWith(':/data:ro'))).toBe(true);
      expect(service.volumes).toContain('indexes:/app/indexes');
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

  it('the image runs as an unprivileged user that owns the index volume and nothing else of /app', () => {
    // The runtime stage: the last FROM.
    const stage = instructions(dockerfile.slice(dockerfile.lastIndexOf('\nFROM ')));
    const users = stage.filter(([op]) => op === 'USER').map(([, arg]) => arg);
    expect(users.length).toBe(1);
    const [uid, gid] = users[0].split(':');
    // Numeric (a runAsNonRoot check can verify it) and not root: the base image's `node` user is 1000:1000.
    expect(uid).toMatch(/^[1-9]\d*$/);
    expect(gid).toMatch(/^[1-9]\d*$/);
    const at = (op: string, match: (arg: string) => boolean = () => true) => stage.findIndex(([o, a]) => o === op && match(a));
    // Everything the service runs is copied and set up before it becomes that user, and runs after.
    expect(at('USER')).toBeGreaterThan(Math.max(...stage.flatMap(([op], i) => (op === 'COPY' || op === 'RUN' ? [i] : []))));
    expect(at('CMD')).toBeGreaterThan(at('USER'));
    // The code, dependencies and data stay root's: no COPY hands them to the user.
    for (const [op, arg] of stage) if (op === 'COPY') expect(arg).not.toMatch(/--chown|--chmod/);
    // The one directory it owns is where the service writes its indexes (DEFAULT_INDEX_DIR, under WORKDIR).
    const workdir = stage.find(([op]) => op === 'WORKDIR')![1];
    const indexDir = posix.join(workdir, relative(PACKAGE_ROOT, DEFAULT_INDEX_DIR));
    expect(indexDir).toBe('/app/indexes');
    const chowns = stage.filter(([op, arg]) => op === 'RUN' && /\bchown\b/.test(arg)).map(([, arg]) => arg.match(/\bchown\s+(?:-R\s+)?(\S+)\s+([^&;]+)/)!);
    expect(chowns.map((m) => [m[1], m[2].trim()])).toEqual([[`${uid}:${gid}`, indexDir]]);
    expect(stage.some(([op, arg]) => op === 'RUN' && /\bchmod\b/.test(arg))).toBe(false);
    // Declared a volume after the chown (Docker discards changes to a volume's path made after VOLUME), so a fresh
    // named volume mounted there starts owned by the user.
    const volume = at('VOLUME');
    expect(JSON.parse(stage[volume][1])).toEqual([indexDir]);
    expect(volume).toBeGreaterThan(at('RUN', (arg) => arg.includes('chown')));
  });

  it('replicas keep that user, a read-only root filesystem, and write only to the index volume and /tmp', () => {
    const dockerUser = instructions(dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))).find(([op]) => op === 'USER')![1];
    for (const [, service] of replicas) {
      // No `user:` override: the image's unprivileged user.
      expect(service.user ?? dockerUser).toBe(dockerUser);
      expect(service.read_only).toBe(true);
      expect(service.tmpfs).toEqual(['/tmp']);
      expect(service.cap_drop).toEqual(['ALL']);
      expect(service.security_opt).toContain('no-new-privileges:true');
      // Every mount but the index volume is read-only; the index volume is a named one, declared at the top level
      // (a host directory Docker creates for a bind mount would be root's, unwritable by the user).
      const writable = service.volumes!.filter((v) => !v.endsWith(':ro'));
      expect(writable).toEqual(['indexes:/app/indexes']);
      expect(compose.volumes).toHaveProperty('indexes');
      // A hub model's downloads (~/.cache by default) would hit the read-only filesystem: they go to the volume.
      expect(service.environment!.ERC_DEMOS_MODEL_CACHE).toMatch(/^\/app\/indexes\//);
    }
  });

  it('replicas bound to every interface serve with API keys: a keys file mounted read-only as a secret, and nginx passes the key through', () => {
    for (const [, service] of replicas) {
      // Off loopback `serve` refuses to start without keys (issue 25): a keys file, not --allow-anonymous.
      expect(service.environment!.HOST).toBe('0.0.0.0');
      expect(service.environment!.ERC_DEMOS_ALLOW_ANONYMOUS ?? '0').toBe('0');
      expect(service.secrets).toEqual(['erc-demos-keys']);
      // Compose mounts a secret read-only at /run/secrets/<name>.
      expect(service.environment!.ERC_DEMOS_API_KEYS_FILE).toBe('/run/secrets/erc-demos-keys');
    }
    expect(compose.secrets?.['erc-demos-keys']?.file).toBe('${ERC_DEMOS_KEYS:-./keys.json}');
    // The keys file never enters the image or the repository.
    for (const ignore of ['.dockerignore', '.gitignore']) expect(readFileSync(resolve(ROOT, ignore), 'utf8').split('\n')).toContain('keys.json');
    // proxy_pass sends the client's headers on, Authorization among them, unless the config drops them.
    expect(nginx).not.toMatch(/proxy_set_header\s+Authorization/i);
    expect(nginx).not.toMatch(/proxy_pass_request_headers\s+off/);
  });
});
