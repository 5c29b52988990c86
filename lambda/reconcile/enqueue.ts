import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { BODY_LOCATION_S3, MESSAGE_ATTRIBUTE } from '../../contracts/queue-message';
import { ClaimCheckBucket, putClaimCheck } from '../shared/claim-check-put';
import { SQS_MAX_MESSAGE_BYTES, sqsMessageBytes, sqsSafeAttribute, sqsSafeBody } from '../shared/sqs-safe-body';
import type { Repair } from './repairs';

export type Enqueue = (repair: Repair) => Promise<void>;

/** A repair too large for an SQS message, and no claim-check bucket to put it in. */
export class RepairTooLargeError extends Error {
  constructor(
    readonly repairId: string,
    readonly messageBytes: number,
  ) {
    super(
      `repair ${repairId} is ${messageBytes} bytes as an SQS message (at most ${SQS_MAX_MESSAGE_BYTES}) and no claim-check bucket is configured`,
    );
    this.name = 'RepairTooLargeError';
  }
}

/**
 * Repairs go into the same queue as LiveKit's webhooks, with the same message attributes as
 * ingest sets (contracts/queue-message.ts) and `source=reconciler`, so the same processor
 * applies them and the change feed says where they came from. A repair is built from the same
 * LiveKit data as a webhook (a participant named with U+FFFF, an emoji in metadata), so its body
 * and attributes are made SQS-safe the same way ingest makes them (lambda/shared/sqs-safe-body.ts),
 * and one too large for an SQS message (a `participant_joined` carries the room and the participant
 * whole, up to 512 KiB of metadata each with LiveKit's defaults) goes by claim check as ingest's
 * do: the body to the claim-check bucket, a pointer to the queue. Without a bucket, such a repair
 * fails with `RepairTooLargeError`, which the run reports.
 */
export function sqsEnqueue(sqs: SQSClient, queueUrl: string, clock: () => number = Date.now, claimChecks?: ClaimCheckBucket): Enqueue {
  const send = (body: string, attributes: Record<string, string>) =>
    sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: body,
        MessageAttributes: Object.fromEntries(
          Object.entries(attributes).map(([name, value]) => [name, { DataType: 'String', StringValue: value }]),
        ),
      }),
    );
  return async (repair) => {
    const attributes: Record<string, string> = {
      [MESSAGE_ATTRIBUTE.eventId]: sqsSafeAttribute(repair.id),
      [MESSAGE_ATTRIBUTE.eventType]: sqsSafeAttribute(repair.eventType),
      [MESSAGE_ATTRIBUTE.source]: 'reconciler',
      [MESSAGE_ATTRIBUTE.receivedAt]: String(clock()),
      ...(repair.roomName ? { [MESSAGE_ATTRIBUTE.roomName]: sqsSafeAttribute(repair.roomName) } : {}),
    };
    const body = sqsSafeBody(repair.body);
    const messageBytes = sqsMessageBytes(body, attributes);
    if (messageBytes <= SQS_MAX_MESSAGE_BYTES) {
      await send(body, attributes);
      return;
    }
    if (!claimChecks) throw new RepairTooLargeError(repair.id, messageBytes);
    const pointer = await putClaimCheck(claimChecks, body);
    await send(JSON.stringify(pointer), { ...attributes, [MESSAGE_ATTRIBUTE.bodyLocation]: BODY_LOCATION_S3 });
  };
}
