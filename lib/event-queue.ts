import { Duration } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SQS_MAX_MESSAGE_BYTES } from '../lambda/shared/sqs-safe-body';
import { PipelineConfig, queueProblems, queueVisibilityTimeoutSeconds } from './config';
import { removalPolicyOf } from './removal-policy';

export interface EventQueueProps {
  /** Its own settings, the processor's (its timeout sets the visibility timeout) and the removal policy. */
  readonly config: Pick<PipelineConfig, 'queue' | 'processing' | 'removalPolicy'>;
}

/**
 * The queue between "LiveKit got its 200" and "the event is applied": once a message is here it is
 * never lost. Standard (not FIFO): the processor does not depend on order or on single delivery,
 * and a standard queue has no per-group throughput ceiling. A message that fails
 * `maxReceiveCount` times moves to the DLQ and stays there for on-call to inspect and redrive.
 */
export class EventQueue extends Construct {
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: EventQueueProps) {
    super(scope, id);
    const { queue: q, processing, removalPolicy } = props.config;
    const problems = queueProblems(q, processing);
    if (problems.length > 0) throw new Error(`Invalid EventQueue props:\n  - ${problems.join('\n  - ')}`);
    const policy = removalPolicyOf(removalPolicy);
    // 1 MiB, SQS's largest, set explicitly: it is the default for new queues, but a queue created
    // while the default was 256 KiB keeps that until the template names the size. Ingest checks
    // every message against this size (lambda/shared/sqs-safe-body.ts); the DLQ takes the same.
    const maxMessageSizeBytes = SQS_MAX_MESSAGE_BYTES;

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(q.dlqRetentionDays),
      maxMessageSizeBytes,
      removalPolicy: policy,
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(q.retentionDays),
      visibilityTimeout: Duration.seconds(queueVisibilityTimeoutSeconds(processing)),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: q.maxReceiveCount },
      maxMessageSizeBytes,
      removalPolicy: policy,
    });
  }
}
