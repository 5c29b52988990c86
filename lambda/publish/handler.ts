/**
 * The publish Lambda: the state table's stream (new and old images) in, state changes on the
 * EventBridge bus out, the checkpoint to retry from returned (`ReportBatchItemFailures`).
 * Everything else is in stream-publisher.ts and change-feed.ts.
 */
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { EventBridgePublisher } from '../process/publisher';
import { pipelineNameEnv, requiredEnv } from '../shared/env';
import { Logger, parseLogLevel } from '../shared/logger';
import { EmfMetricsSink } from '../shared/metrics';
import { createStreamPublisher } from './stream-publisher';

const busName = requiredEnv('EVENT_BUS_NAME');
const pipeline = pipelineNameEnv();
const logger = new Logger({ service: 'publish', pipeline, level: parseLogLevel(process.env.LOG_LEVEL) });

const publisher = createStreamPublisher({
  bus: new EventBridgePublisher(new EventBridgeClient({}), busName),
  logger,
  metrics: new EmfMetricsSink(pipeline),
});

export async function handler(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  const { batchItemFailures } = await publisher.publishRecords(event.Records);
  return { batchItemFailures };
}
