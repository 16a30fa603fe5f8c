import { readConfig, type ConfigFor } from '../../config.js';
import { fromEnvironment } from '../lambda.js';
import { createObservability } from '../observability.js';
import { httpGroup, ok, type Route } from './http-handler.js';

export const healthRoutes: Route[] = [
  { auth: 'none', method: 'GET', path: '/health', summary: 'Liveness', handle: async () => ok({ ok: true }) },
];

/** Liveness: no AWS client at all. */
export type HealthConfig = ConfigFor<'observability'>;

export const createHandler = (config: HealthConfig) =>
  httpGroup(healthRoutes, undefined, createObservability(config.observability));

export const handler = fromEnvironment(() => createHandler(readConfig(['observability'])));
