import { NotFoundError } from '../domain/errors.js';
import type { Hours } from '../domain/hours.js';
import type { Channel, Contact, OrgSettings, Workstream } from '../domain/model.js';
import type { MessageTemplate } from '../domain/templates.js';
import type { Trigger } from '../domain/triggers.js';
import type { QueueConfig } from '../ports/storage-types.js';
import type { EngineDeps } from './engine.js';

/** Admin reads of the configuration the PUTs of admin.use-case.ts write. A missing item is 404. */

type Deps = Pick<EngineDeps, 'configuration' | 'contacts'>;

const found = async <T>(read: Promise<T | undefined>, entity: string, id: string): Promise<T> => {
  const v = await read;
  if (v === undefined) throw new NotFoundError(entity, id);
  return v;
};

/** The org settings; the defaults when they were never set. */
export const readSettings = (deps: Deps, org: string): Promise<OrgSettings> => deps.configuration.getSettings(org);

export const readWorkstream = (deps: Deps, org: string, id: string): Promise<Workstream> =>
  found(deps.configuration.getWorkstream(org, id), 'workstream', id);

export const readQueue = (deps: Deps, org: string, id: string): Promise<QueueConfig> =>
  found(deps.configuration.getQueue(org, id), 'queue', id);

/** H-1 */
export const readHours = (deps: Deps, org: string, id: string): Promise<Hours> =>
  found(deps.configuration.getHours(org, id), 'hours', id);

/** The channel, never its webhook secret (write-only). */
export const readChannel = (deps: Deps, org: string, id: string): Promise<Channel> =>
  found(deps.configuration.getChannel(org, id), 'channel', id);

export const readContact = (deps: Deps, org: string, id: string): Promise<Contact> =>
  found(deps.contacts.getContact(org, id), 'contact', id);

/** M-3 */
export const listTriggers = (deps: Deps, org: string): Promise<Trigger[]> => deps.configuration.listTriggers(org);

/** MS-4: the org's templates that are set, in TEMPLATE_EVENTS order */
export const listMessageTemplates = (deps: Deps, org: string): Promise<MessageTemplate[]> =>
  deps.configuration.listMessageTemplates(org);
