import type { EmbedRole } from '../embed/create.js';
import type { SharedEmbedders } from '../embed/shared-embedders.js';
import { DemoService } from '../service/service.js';
import type { Settings } from '../settings.js';

/** `--index name=dir` or `--index dir`. */
export function parseIndexArg(arg: string): { name?: string; dir: string } {
  const eq = arg.indexOf('=');
  return eq > 0 ? { name: arg.slice(0, eq), dir: arg.slice(eq + 1) } : { dir: arg };
}

/** Opens the `--index` arguments; `shared` keeps the embedders across openings (serve's reloads). */
export async function loadService(indexArgs: string[], embedder: string | undefined, role: EmbedRole, settings: Settings, shared?: SharedEmbedders): Promise<DemoService> {
  const parsed = indexArgs.map(parseIndexArg);
  return DemoService.load(parsed.map((p) => p.dir), { embedder, names: parsed.map((p) => p.name), role, settings, shared });
}
