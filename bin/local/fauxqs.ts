import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';
import { LOOPBACK } from './names.js';

/** A queue as fauxqs's inspection endpoint shows it (only what the tests read). */
export interface QueueInspection {
  name: string;
  messages: { ready: unknown[]; delayed: unknown[]; inflight: unknown[] };
}

export interface LocalSqs {
  /** the endpoint, `http://127.0.0.1:<port>` */
  address: string;
  port: number;
  /** creates a queue through the SQS API (CreateQueue), as the stack's queues are created in AWS */
  createQueue(name: string, options?: { attributes?: Record<string, string> }): Promise<{ url: string; arn: string }>;
  /** every message of the queue, ready, delayed and in flight, without receiving any; undefined if none */
  inspectQueue(name: string): Promise<QueueInspection | undefined>;
  stop(): Promise<void>;
}

/**
 * Starts the SQS emulator fauxqs on 127.0.0.1 (RL-10). fauxqs's own `startFauxqs` always listens on
 * 0.0.0.0 (its `host` option only names the host of the queue URLs), so this builds fauxqs's app with
 * its public `buildApp` and listens on the loopback interface itself. The queue URLs name
 * `sqs.us-east-1.127.0.0.1:<port>` as `startFauxqs({ host: '127.0.0.1' })` made them; clients reach
 * fauxqs through the endpoint.
 */
export async function startLocalSqs(options: { port?: number } = {}): Promise<LocalSqs> {
  const app = buildApp({ logger: false, host: LOOPBACK });
  const address = await app.listen({ port: options.port ?? 0, host: LOOPBACK });
  const port = Number(new URL(address).port);
  const sqs = new SQSClient({
    region: 'us-east-1',
    endpoint: address,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  return {
    address,
    port,
    async createQueue(name, queueOptions = {}) {
      const { QueueUrl: url } = await sqs.send(
        new CreateQueueCommand({ QueueName: name, Attributes: queueOptions.attributes }),
      );
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
      );
      const arn = Attributes?.QueueArn;
      if (!url || !arn) throw new Error(`fauxqs did not create the queue ${name}`);
      return { url, arn };
    },
    async inspectQueue(name) {
      const res = await fetch(`${address}/_fauxqs/queues/${encodeURIComponent(name)}`);
      if (res.status === 404) return undefined;
      if (!res.ok) throw new Error(`fauxqs could not inspect the queue ${name}: ${res.status} ${await res.text()}`);
      return (await res.json()) as QueueInspection;
    },
    async stop() {
      sqs.destroy();
      await app.close();
    },
  };
}
