import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Notifier, Outbound } from '../ports/notifier.js';

/** The outbound SQS queue: one message per notification or channel message, its body the documented schema. */
export class SqsNotifier implements Notifier {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async publish(n: Outbound): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(n),
        MessageAttributes: {
          type: { DataType: 'String', StringValue: n.type },
          org: { DataType: 'String', StringValue: n.org },
        },
      }),
    );
  }
}
