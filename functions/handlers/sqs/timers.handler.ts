import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod/mini';
import '../zod-messages.js';
import { TIMER_KINDS } from '../../domain/writes.js';
import { fireTimer } from '../../use-cases/timers.use-case.js';
import { readConfig } from '../../config.js';
import { fromEnvironment } from '../lambda.js';
import { observability } from '../observability.js';
import {
  createTableEngineRuntime,
  TABLE_ONLY_CAPABILITIES,
  type EngineRuntime,
  type TableEngineConfig,
  type TableEngineOverrides,
} from '../wiring/engine.js';

const dueTimer = z.object({
  name: z.string().check(z.minLength(1), z.maxLength(64)),
  kind: z.enum(TIMER_KINDS),
  org: z.string().check(z.minLength(1)),
  conversationId: z.optional(z.string()),
  agentId: z.optional(z.string()),
  version: z.int(),
  at: z.string(),
  key: z.optional(z.string()),
  subjectSince: z.optional(z.string()),
});

/** EventBridge Scheduler delivers each timer to the timers queue; this applies it (TM-5 safe). */
async function applyTimer({ deps, obs }: EngineRuntime, record: SQSRecord): Promise<void> {
  const timer = dueTimer.parse(JSON.parse(record.body));
  const fired = await fireTimer(deps, timer);
  if (!fired.keep && !fired.removed) await deps.outbox.deleteTimer(timer.org, timer.name);
  obs.count('TimerFires');
  obs.logger.info('timer fired', { ...fired });
}

/**
 * DynamoDB only: a re-armed timer is a table write whose schedule follows from the stream, and
 * notifications and trigger actions are never scheduled (the follow-ups and the sweeper run them).
 */
export function createHandler(config: TableEngineConfig, overrides: TableEngineOverrides = {}) {
  const rt = createTableEngineRuntime(config, overrides);
  const processor = new BatchProcessor(EventType.SQS);
  return middy(async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
    processPartialResponse(event, (record: SQSRecord) => applyTimer(rt, record), processor, {
      context,
      throwOnFullBatchFailure: false,
    }),
  ).use(observability(rt.obs));
}

export const handler = fromEnvironment(() => createHandler(readConfig(TABLE_ONLY_CAPABILITIES)));
