import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { MiddlewareObj } from '@middy/core';
import type { ObservabilityConfig } from '../config.js';
import type { EngineDeps } from '../use-cases/engine.js';

/** Logger, metrics and tracer of one handler, from its observability config. */
export interface Observability {
  logger: Logger;
  /** absent where metrics are disabled (the local runtime): nothing is recorded */
  metrics?: Metrics;
  tracer: Tracer;
  /** adds a Count metric (EMF, flushed after the invocation) */
  count(name: string, value?: number): void;
  /** the engine's warning log */
  log: NonNullable<EngineDeps['log']>;
}

export function createObservability(config: ObservabilityConfig): Observability {
  const { serviceName } = config;
  const logger = new Logger({ serviceName, ...(config.logLevel ? { logLevel: config.logLevel } : {}) });
  const metrics = config.metrics ? new Metrics({ serviceName, namespace: config.metricsNamespace }) : undefined;
  return {
    logger,
    ...(metrics ? { metrics } : {}),
    tracer: new Tracer({ serviceName, ...(config.tracing ? {} : { enabled: false }) }),
    count: (name, value = 1) => metrics?.addMetric(name, MetricUnit.Count, value),
    log: { warn: (message, data) => logger.warn(message, data ?? {}) },
  };
}

/**
 * The Powertools middlewares every handler starts with: tracing, metrics (flushed as EMF; skipped
 * where metrics are disabled, as in the local runtime), and the logger's Lambda context.
 */
export function observability(obs: Observability): MiddlewareObj[] {
  return [
    captureLambdaHandler(obs.tracer),
    ...(obs.metrics ? [logMetrics(obs.metrics)] : []),
    injectLambdaContext(obs.logger, { resetKeys: true }),
  ] as MiddlewareObj[];
}
