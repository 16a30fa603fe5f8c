import { ConfigCache } from './config-cache.js';
import type { EngineDeps } from './engine.js';

/**
 * The engine's dependencies for one execution environment, with its configuration cache. Nothing
 * runs after a commit inside a request: what a change causes follows from the table's stream
 * (functions/follow-ups), in AWS and locally alike.
 */
export function createEngine<D extends EngineDeps>(deps: D): D {
  return { config: new ConfigCache(), ...deps };
}
