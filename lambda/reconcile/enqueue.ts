import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { MESSAGE_ATTRIBUTE } from '../../contracts/queue-message';
import { sqsSafeAttribute, sqsSafeBody } from '../shared/sqs-safe-body';
import type { Repair } from './repairs';

export type Enqueue = (repair: Repair) => Promise<void>;

/**
 * Repairs go into the same queue as LiveKit's webhooks, with the same message attributes as
 * ingest sets (contracts/queue-message.ts) and `source=reconciler`, so the same processor
 * applies them and the change feed says where they came from. A repair is built from the same
 * LiveKit data as a webhook (a participant named with U+FFFF, an emoji in metadata), so its body
 * and attributes are made SQS-safe the same way ingest makes them (lambda/shared/sqs-safe-body.ts).
 */
export function sqsEnqueue(sqs: SQSClient, queueUrl: string, clock: () => number = Date.now): Enqueue {
  return async (repair) => {
    const attributes: Record<string, string> = {
      [MESSAGE_ATTRIBUTE.eventId]: sqsSafeAttribute(repair.id),
      [MESSAGE_ATTRIBUTE.eventType]: sqsSafeAttribute(repair.eventType),
      [MESSAGE_ATTRIBUTE.source]: 'reconciler',
      [MESSAGE_ATTRIBUTE.receivedAt]: String(clock()),
      ...(repair.roomName ? { [MESSAGE_ATTRIBUTE.roomName]: sqsSafeAttribute(repair.roomName) } : {}),
    };
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: sqsSafeBody(repair.body),
        MessageAttributes: Object.fromEntries(
          Object.entries(attributes).map(([name, value]) => [name, { DataType: 'String', StringValue: value }]),
        ),
      }),
    );
  };
}
