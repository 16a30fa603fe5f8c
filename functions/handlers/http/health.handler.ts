import { httpGroup, ok, type Route } from './http-handler.js';

export const healthRoutes: Route[] = [
  { auth: 'none', method: 'GET', path: '/health', handle: async () => ok({ ok: true }) },
];

export const handler = httpGroup(healthRoutes);
