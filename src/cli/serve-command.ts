import { createQueryEmbedder } from '../embed/create.js';
import { SharedEmbedders } from '../embed/shared-embedders.js';
import { createApp } from '../server/app.js';
import { createHttpServer } from '../server/http-server.js';
import { BlockLogDestination } from '../server/log-destination.js';
import { createLogger } from '../server/logging.js';
import { ReloadableService } from '../server/reloadable.js';
import { ApiKeys } from '../keys/ring.js';
import { allowedHosts, isLoopbackHost } from '../server/request-guards.js';
import { drain, newLifecycle, trackConnections } from '../server/shutdown.js';
import { followWrites } from '../server/follow-writes.js';
import type { DemoService } from '../service/service.js';
import { SettingError } from '../errors.js';
import { settingsFromEnv, type Settings } from '../settings.js';
import { openDefaultIndex } from './default-index.js';
import { loadService } from './load-service.js';

export interface ServeCommandOptions {
  index?: string[];
  port: number;
  host: string;
  embedder?: string;
  /** The API keys file (else ERC_DEMOS_API_KEYS_FILE). */
  keys?: string;
  /** Requests without a key may read (else ERC_DEMOS_ALLOW_ANONYMOUS). */
  allowAnonymous?: boolean;
}

/**
 * Who may use the service: the keys file of --keys or ERC_DEMOS_API_KEYS_FILE, read now (a broken one stops the
 * start, naming the file and the field). Off loopback, a service without keys would let anyone who reaches the port
 * read every served index: refused unless anonymous reads are asked for on purpose.
 */
function openAccess(o: ServeCommandOptions, settings: Settings): ApiKeys {
  const file = o.keys ?? (settings.apiKeysFile === '' ? undefined : settings.apiKeysFile);
  const allowAnonymous = o.allowAnonymous === true || settings.allowAnonymous === '1';
  if (file === undefined && !allowAnonymous && !isLoopbackHost(o.host)) {
    throw new SettingError(`refusing to serve on ${o.host} without API keys: anyone who reaches the port could read every served index. ` +
      'Either give a keys file (--keys FILE or ERC_DEMOS_API_KEYS_FILE; make keys with `erc-demos keys new --name NAME --scope read`), ' +
      'or serve reads to anyone on purpose with --allow-anonymous (ERC_DEMOS_ALLOW_ANONYMOUS=1; writes always need a key)');
  }
  const keys = new ApiKeys({ file, allowAnonymous, metricsPublic: settings.metricsPublic === '1' });
  if (keys.ring) console.error(`keys: ${keys.ring.describe()}, from ${file}${allowAnonymous ? '; requests without a key may read (anonymous allowed)' : ''}`);
  else if (allowAnonymous) console.error('keys: none; anonymous requests may read (--allow-anonymous / ERC_DEMOS_ALLOW_ANONYMOUS=1)');
  return keys;
}

function announce(service: DemoService, prefix = ''): void {
  for (const [name, index] of service.indexes) {
    console.error(`${prefix}index "${name}": ${index.manifest.corpus} ${index.manifest.splits.join('+')}, ${index.manifest.count} utterances, ${index.manifest.embedder.id}`);
  }
}

/**
 * SIGHUP from the first moment: before the service is up (the default index's first build can take minutes) it
 * must not kill the process (Node's default), so it is noted and answered by a reopening once the service serves.
 * Returns the function that installs the real handler and runs the reopening asked for meanwhile, if any.
 */
function holdSighupUntilStarted(): (reopen: () => void) => void {
  let asked = false;
  const early = () => {
    asked = true;
    console.error('SIGHUP: still starting; the indexes will be reopened once they are served');
  };
  process.on('SIGHUP', early);
  return (reopen) => {
    process.off('SIGHUP', early);
    process.on('SIGHUP', reopen);
    if (asked) reopen();
  };
}

/** erc-demos serve: opens the indexes (or the built-in default), serves them, reopens them on SIGHUP, drains on SIGTERM/SIGINT. */
export async function runServe(o: ServeCommandOptions): Promise<void> {
  const startReloads = holdSighupUntilStarted();
  console.error(`starting: opening ${o.index ? o.index.join(', ') : 'the default index'}`);
  const settings = settingsFromEnv();
  const keys = openAccess(o, settings);
  const logger = createLogger(settings.logLevel, new BlockLogDestination(settings.logFlushMs));
  // One embedder pool per model for the life of the process: every reopening reuses it (shared-embedders.ts).
  const embedders = new SharedEmbedders((spec) => createQueryEmbedder(spec, 'serve', settings));
  // What SIGHUP reopens: the --index arguments, or the default index's directory once found or built.
  let indexArgs = o.index ?? [];
  const open = () => loadService(indexArgs, o.embedder, 'serve', settings, embedders);
  const first = o.index ? await open() : await openDefaultIndex((dir) => ((indexArgs = [dir]), open()), settings);
  const lifecycle = newLifecycle();
  const appOptions = { lifecycle, maxBodyBytes: settings.maxBodyBytes, logger, allowedHosts: allowedHosts(settings.allowedHosts, o.host), keys };
  const served = new ReloadableService(first, (service) => createApp(service, appOptions));
  const server = createHttpServer(served.listener, settings);
  trackConnections(server, lifecycle);
  server.once('error', (error) => {
    console.error(`cannot listen on ${o.host}:${o.port}: ${error.message}`);
    process.exit(1);
  });
  server.once('listening', () => {
    const address = server.address();
    const actualPort = typeof address === 'object' && address ? address.port : o.port;
    announce(served.service);
    console.error(`listening on http://${o.host}:${actualPort}  (open it in a browser for the page, or try: curl "http://${o.host}:${actualPort}/demonstrations?utterance=I%20can%27t%20believe%20you%20did%20that!&k=5")`);
  });
  server.listen(o.port, o.host);
  const stop = (signal: NodeJS.Signals) => {
    if (lifecycle.draining) {
      console.error(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopFollowing();
    console.error(`${signal}: draining (new connections refused, /healthz 503, up to ${settings.shutdownTimeoutMs} ms for requests in flight)`);
    void drain(server, lifecycle, settings.shutdownTimeoutMs).then(async ({ forced }) => {
      console.error(forced ? 'closed the connections left at the deadline; exiting' : 'drained; exiting');
      // Work of cut requests leaves the queue; the embedder call in flight (tens of ms) ends before the exit.
      await served.close();
      await embedders.close();
      process.exit(0);
    });
  };
  // Writes other processes make to the served folders (replicas, the CLI) are applied as they come; a folder that now
  // holds another build (compacted) is reopened as SIGHUP reopens.
  let reopening = false;
  const stopFollowing = followWrites({
    current: () => served.service, pollMs: settings.writesPollMs, hintPercent: settings.compactHintPercent, hintRows: settings.compactHintRows, log: (line) => console.error(line),
    onRebuilt: (names) => {
      if (reopening || lifecycle.draining) return;
      reopening = true;
      console.error(`writes: ${names.join(', ')} now holds another build (compacted or rebuilt); reopening`);
      served.reload(open).then(
        (service) => announce(service, 'reopened: '),
        (error: unknown) => console.error(`reopening failed, still serving the indexes opened before (tried again at the next look): ${(error as Error).message}`),
      ).finally(() => (reopening = false));
    },
  });
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // SIGHUP rereads the keys file (a broken one keeps the keys read before) and reopens the indexes, each checked as
  // at start; requests under way finish on the ones they started on.
  startReloads(() => {
    if (lifecycle.draining) return;
    if (keys.file !== undefined) {
      try {
        console.error(`SIGHUP: keys reloaded: ${keys.reload()!.describe()}`);
      } catch (error) {
        console.error(`SIGHUP: keys file not reloaded, still using the keys read before: ${(error as Error).message}`);
      }
    }
    console.error(`SIGHUP: reopening ${indexArgs.join(', ')}`);
    served.reload(open).then(
      (service) => announce(service, 'SIGHUP: reopened: '),
      (error: unknown) => console.error(`SIGHUP: reopening failed, still serving the indexes opened before: ${(error as Error).message}`),
    );
  });
}
