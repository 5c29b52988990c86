/**
 * The process function on its own thread: the SQS event source's stand-in (local/sqs-event-source.ts)
 * polling the event queue and the real processor (lambda/process/processor.ts), each with its own
 * clients, as the process Lambda and its event source mapping run on AWS. See process.ts.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { s3ClaimCheckStore } from '../../lambda/process/claim-check';
import { createProcessor } from '../../lambda/process/processor';
import type { MetricDatum } from '../../lambda/shared/metrics';
import { SqsEventSource } from '../sqs-event-source';
import { localS3ClientConfig } from '../engines/sqs-emulator';
import { localDocumentClient, localDynamoDbClient, localSqsClient } from './clients';
import { PROCESS, ProcessedBatch, ProcessFunctionInit, waitAtGate } from './process';
import { runFunctionWorker } from './worker-runtime';

runFunctionWorker<ProcessFunctionInit, void>(async (init, host) => {
  const sqs = host.meter(localSqsClient(init.sqsEndpoint), 'SQS');
  const dynamodb = host.meter(localDynamoDbClient(init.dynamodbEndpoint), 'DynamoDB');
  // fauxqs serves S3 on its SQS port: the claim-check bucket's stand-in.
  const s3 = new S3Client(localS3ClientConfig(init.sqsEndpoint));
  // Reports to the main thread are not awaited: as on AWS, nothing outside the function holds a batch back.
  const report = (method: string, value: unknown) => void host.call(method, value).catch(() => undefined);
  const processor = createProcessor({
    ddb: localDocumentClient(dynamodb),
    tableName: init.tableName,
    logger: host.logger('process', init.logLevel),
    eventRecordTtlDays: init.processing.eventRecordTtlDays,
    claimChecks: s3ClaimCheckStore(s3),
    ...(init.claimCheckBucket !== undefined ? { claimCheckBucket: init.claimCheckBucket } : {}),
    metrics: { put: (data: readonly MetricDatum[], extra?: Record<string, unknown>) => report(PROCESS.metrics, { data, extra }) },
  });
  const gate = init.gate ? new Int32Array(init.gate) : undefined;
  const eventSource = new SqsEventSource({
    client: sqs,
    queueUrl: init.queueUrl,
    queueArn: init.queueArn,
    processing: init.processing,
    handler: async (event) => {
      waitAtGate(gate);
      const results = await processor.processRecords(event.Records);
      const batch: ProcessedBatch = {
        outcomes: results.flatMap((result) =>
          result.eventId && result.outcome ? [{ eventId: result.eventId, outcome: result.outcome }] : [],
        ),
        processedAt: Date.now(),
      };
      report(PROCESS.batchProcessed, batch);
      return { batchItemFailures: results.filter((result) => result.error).map((result) => ({ itemIdentifier: result.messageId })) };
    },
    logger: host.logger('event-source', init.logLevel),
  });
  eventSource.start();
  return {
    ready: undefined,
    handlers: {
      [PROCESS.stats]: () => ({ ...eventSource.stats }),
      [PROCESS.stopPolling]: () => eventSource.stop(),
    },
    async stop() {
      await eventSource.stop();
      sqs.destroy();
      dynamodb.destroy();
      s3.destroy();
    },
  };
});
