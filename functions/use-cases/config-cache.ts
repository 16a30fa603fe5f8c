import type { Channel, OrgSettings, Workstream } from '../domain/model.js';
import type { MessageTemplate } from '../domain/templates.js';
import type { Trigger } from '../domain/triggers.js';
import type { Versioned } from '../ports/storage-types.js';

/**
 * Configuration kept in memory between requests of one execution environment. An entry is only a
 * guess: every transaction decided on it carries a `config-current` condition on the item's
 * `configVersion` (written anew by every admin PUT), so a decision made on stale configuration
 * never commits. It is cancelled, the entry is dropped, and the change is decided again on a fresh
 * read. R-5 ("a configuration change applies to the next decision") therefore holds exactly, with
 * no time window, whatever the cache holds.
 */

export type ConfigEntity = 'workstream' | 'settings' | 'channel' | 'triggers' | 'templates';

interface Entries {
  workstream: Versioned<Workstream>;
  settings: Versioned<OrgSettings>;
  channel: Versioned<Channel>;
  triggers: Versioned<Trigger[]>;
  /** MS-4: the org's message templates (id: the org) */
  templates: Versioned<MessageTemplate[]>;
}

/** Bounded so a container serving many orgs keeps memory flat (oldest entries go first). */
const MAX_ENTRIES = 5_000;

export class ConfigCache {
  private readonly entries = new Map<string, Versioned<unknown>>();
  /** pool names of the org's workstreams seen so far: read with the acting agent in the first round trip */
  private readonly pools = new Map<string, Set<string>>();

  private static key(entity: ConfigEntity, org: string, id: string): string {
    return `${entity}\u0000${org}\u0000${id}`;
  }

  get<E extends ConfigEntity>(entity: E, org: string, id: string): Entries[E] | undefined {
    return this.entries.get(ConfigCache.key(entity, org, id)) as Entries[E] | undefined;
  }

  set<E extends ConfigEntity>(entity: E, org: string, id: string, entry: Entries[E]): void {
    const key = ConfigCache.key(entity, org, id);
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
    if (entity === 'workstream') this.poolNamesOf(org).add((entry.value as Workstream).capacity.pool);
  }

  /** The cached entry, or `read()` (then cached); `fresh` skips the cache (a retry after a failed check). */
  async through<E extends ConfigEntity>(
    entity: E,
    org: string,
    id: string,
    fresh: boolean,
    read: () => Promise<Entries[E]>,
  ): Promise<Entries[E]> {
    const cached = fresh ? undefined : this.get(entity, org, id);
    if (cached) return cached;
    const entry = await read();
    this.set(entity, org, id, entry);
    return entry;
  }

  drop(entity: ConfigEntity, org: string, id: string): void {
    this.entries.delete(ConfigCache.key(entity, org, id));
  }

  /** The pools an action of this org is likely to need (the org's known workstreams' pools, and `default`). */
  poolNamesOf(org: string): Set<string> {
    let names = this.pools.get(org);
    if (!names) {
      names = new Set(['default']);
      if (this.pools.size >= MAX_ENTRIES) this.pools.delete(this.pools.keys().next().value as string);
      this.pools.set(org, names);
    }
    return names;
  }
}

const caches = new WeakMap<object, ConfigCache>();

/** The engine's cache (one per execution environment), created with the engine's dependencies. */
export function configCacheOf(deps: { config?: ConfigCache; configuration: object }): ConfigCache {
  if (deps.config) return deps.config;
  let cache = caches.get(deps.configuration);
  if (!cache) {
    cache = new ConfigCache();
    caches.set(deps.configuration, cache);
  }
  return cache;
}
