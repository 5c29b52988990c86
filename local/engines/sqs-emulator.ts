/**
 * The SQS emulator (fauxqs, ESM-only, so run as a child process) on a random port, with the event
 * queue and its DLQ created as the CDK stack creates them: RedrivePolicy with maxReceiveCount and
 * the visibility timeout derived from the same config; and the publisher's DLQ.
 */
import { spawn } from 'child_process';
import { randomUUID } from 'crypto';
import { existsSync } from 'fs';
import { join } from 'path';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { PipelineConfig, queueVisibilityTimeoutSeconds } from '../../lib/config';
import { SQS_MAX_MESSAGE_BYTES } from '../../lambda/shared/sqs-safe-body';
import { readyOrStop, superviseEngine } from './engine-process';
import { freePort, waitUntil } from './free-port';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local-aws';

export interface SqsEmulatorOptions {
  readonly port?: number;
  readonly readyTimeoutMs?: number;
}

export interface EventQueues {
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly dlqUrl: string;
  readonly dlqArn: string;
  /** The publisher's on-failure destination: stream batches it gave up on (lib/processing.ts `PublisherDeadLetterQueue`). */
  readonly publisherDlqUrl: string;
}

export interface CreateEventQueuesOptions {
  /** Default: random, so tests sharing one emulator stay apart. */
  readonly name?: string;
  /**
   * Default: from config (`queueVisibilityTimeoutSeconds`). Tests shorten it so a failed message
   * comes back in a second instead of minutes; everything else still comes from config.
   */
  readonly visibilityTimeoutSeconds?: number;
}

export interface SqsEmulator {
  readonly endpoint: string;
  readonly port: number;
  readonly client: SQSClient;
  /**
   * fauxqs serves S3 on the same port: the claim-check bucket's local stand-in. Path-style
   * addressing (`<endpoint>/<bucket>/<key>`), since virtual-hosted names need DNS this machine may not have.
   */
  readonly s3: S3Client;
  createEventQueues(config: PipelineConfig, options?: CreateEventQueuesOptions): Promise<EventQueues>;
  /** Creates a bucket (name: random unless given) and returns its name. */
  createBucket(name?: string): Promise<string>;
  stop(): Promise<void>;
}

function fauxqsBin(): string {
  // Resolved from this package's node_modules whatever the working directory.
  const candidates = [join(__dirname, '..', '..', 'node_modules', '.bin', 'fauxqs'), join(process.cwd(), 'node_modules', '.bin', 'fauxqs')];
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) throw new Error(`fauxqs not found (looked in ${candidates.join(', ')}); run npm install`);
  return found;
}

export async function startSqsEmulator(options: SqsEmulatorOptions = {}): Promise<SqsEmulator> {
  const port = options.port ?? (await freePort());
  const engine = superviseEngine(
    spawn(fauxqsBin(), [], {
      env: {
        ...process.env,
        FAUXQS_PORT: String(port),
        FAUXQS_HOST: 'localhost',
        FAUXQS_DEFAULT_REGION: LOCAL_REGION,
        FAUXQS_LOGGER: 'false',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
    'fauxqs',
  );

  const endpoint = `http://127.0.0.1:${port}`;
  const client = new SQSClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const s3 = new S3Client(localS3ClientConfig(endpoint));
  const stop = async () => {
    client.destroy();
    s3.destroy();
    await engine.stop();
  };
  await readyOrStop(
    () =>
      waitUntil(
        async () => {
          const response = await fetch(`${endpoint}/health`);
          if (!response.ok) throw new Error(`health answered ${response.status}`);
        },
        options.readyTimeoutMs ?? 15_000,
        'fauxqs',
        engine.exited,
      ),
    stop,
  );

  return {
    endpoint,
    port,
    client,
    s3,
    async createBucket(name = `claim-checks-${randomUUID().slice(0, 8)}`) {
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    async createEventQueues(config, queueOptions = {}) {
      const name = queueOptions.name ?? `events-${randomUUID().slice(0, 8)}`;
      const dlq = await client.send(
        new CreateQueueCommand({
          QueueName: `${name}-dlq`,
          Attributes: {
            MessageRetentionPeriod: String(config.queue.dlqRetentionDays * 86_400),
            MaximumMessageSize: String(SQS_MAX_MESSAGE_BYTES),
          },
        }),
      );
      const dlqArn = (await client.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes
        ?.QueueArn;
      if (!dlq.QueueUrl || !dlqArn) throw new Error('fauxqs did not create the DLQ');
      const queue = await client.send(
        new CreateQueueCommand({
          QueueName: name,
          Attributes: {
            VisibilityTimeout: String(queueOptions.visibilityTimeoutSeconds ?? queueVisibilityTimeoutSeconds(config.processing)),
            MessageRetentionPeriod: String(config.queue.retentionDays * 86_400),
            // As lib/event-queue.ts sets it (fauxqs's default is the same 1 MiB; named so they cannot drift).
            MaximumMessageSize: String(SQS_MAX_MESSAGE_BYTES),
            RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: String(config.queue.maxReceiveCount) }),
          },
        }),
      );
      const queueArn = (await client.send(new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] })))
        .Attributes?.QueueArn;
      if (!queue.QueueUrl || !queueArn) throw new Error('fauxqs did not create the queue');
      // As lib/processing.ts creates it: 14 days, the most SQS keeps a message.
      const publisherDlq = await client.send(
        new CreateQueueCommand({ QueueName: `${name}-publisher-dlq`, Attributes: { MessageRetentionPeriod: String(14 * 86_400) } }),
      );
      if (!publisherDlq.QueueUrl) throw new Error('fauxqs did not create the publisher DLQ');
      return { queueUrl: queue.QueueUrl, queueArn, dlqUrl: dlq.QueueUrl, dlqArn, publisherDlqUrl: publisherDlq.QueueUrl };
    },
    stop,
  };
}

/** An S3 client's settings for fauxqs at `endpoint` (path-style), for the engine and the function threads alike. */
export function localS3ClientConfig(endpoint: string) {
  return { endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, forcePathStyle: true };
}
