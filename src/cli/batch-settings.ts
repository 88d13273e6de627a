import { settingsFromEnv, type Settings } from '../settings.js';

/**
 * The settings of a door that runs over a whole split (prompts, eval): as serve's, except that, unless
 * ERC_DEMOS_VECTOR_CACHE_MB is set, every vector read is kept. Such a run reads many rows' vectors (a training
 * split's cross-fitted walks), and serve's bounded cache made the cross-fitted export of 100k prompts from a 1M-row
 * index 4.5x slower than with every vector in memory; only the rows a run reads are read, once.
 */
export function batchSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const settings = settingsFromEnv(env);
  return env.ERC_DEMOS_VECTOR_CACHE_MB === undefined ? { ...settings, vectorCacheMb: Number.POSITIVE_INFINITY } : settings;
}
