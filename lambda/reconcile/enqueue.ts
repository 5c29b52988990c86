import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { MESSAGE_ATTRIBUTE } from '../shared/queue-message';
import type { Repair } from './repairs';

export type Enqueue = (repair: Repair) => Promise<void>;

/**
 * Repairs go into the same queue as LiveKit's webhooks, with the same message attributes as
 * ingest sets (lambda/shared/queue-message.ts) and `source=reconciler`, so the same processor
 * applies them and the change feed says where they came from.
 */
export function sqsEnqueue(sqs: SQSClient, queueUrl: string, clock: () => number = Date.now): Enqueue {
  return async (repair) => {
    const attributes: Record<string, string> = {
      [MESSAGE_ATTRIBUTE.eventId]: repair.id,
      [MESSAGE_ATTRIBUTE.eventType]: repair.eventType,
      [MESSAGE_ATTRIBUTE.source]: 'reconciler',
      [MESSAGE_ATTRIBUTE.receivedAt]: String(clock()),
      ...(repair.roomName ? { [MESSAGE_ATTRIBUTE.roomName]: repair.roomName } : {}),
    };
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: repair.body,
        MessageAttributes: Object.fromEntries(Object.entries(attributes).map(([name, value]) => [name, { DataType: 'String', StringValue: value }])),
      }),
    );
  };
}
