/**
 * The process Lambda: an SQS batch in, the ids of the records to retry out. Everything else is in
 * processor.ts. Changes are published by lambda/publish/ from the table's stream. Configuration is read once, here, and a missing value stops the cold start.
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { pipelineNameEnv, positiveIntEnv, requiredEnv } from '../shared/env';
import { Logger, parseLogLevel, withRequestId } from '../shared/logger';
import { EmfMetricsSink } from '../shared/metrics';
import { s3ClaimCheckStore } from './claim-check';
import { createDocumentClient } from './document-client';
import { createProcessor } from './processor';

const tableName = requiredEnv('TABLE_NAME');
const eventRecordTtlDays = positiveIntEnv('EVENT_RECORD_TTL_DAYS');
const pipeline = pipelineNameEnv();
const logger = new Logger({ service: 'process', pipeline, level: parseLogLevel(process.env.LOG_LEVEL) });

const processor = createProcessor({
  ddb: createDocumentClient(),
  tableName,
  logger,
  eventRecordTtlDays,
  metrics: new EmfMetricsSink(pipeline),
  // Each claim-checked message's pointer names the object; CLAIM_CHECK_BUCKET pins it to this
  // pipeline's bucket. The client is built at cold start (Lambda's Node runtime ships
  // @aws-sdk/client-s3) and used only for events too large for an SQS message.
  claimChecks: s3ClaimCheckStore(new S3Client({})),
  ...(process.env.CLAIM_CHECK_BUCKET ? { claimCheckBucket: process.env.CLAIM_CHECK_BUCKET } : {}),
});

export const handler = withRequestId(async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const response = await processor.processBatch(event.Records);
  if (response.batchItemFailures.length > 0) {
    logger.warn('batch partly failed', { records: event.Records.length, failed: response.batchItemFailures.length });
  }
  return response;
});
