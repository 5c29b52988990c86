/**
 * The publish function on its own thread: the DynamoDB Streams event source's stand-in
 * (local/dynamodb-stream-source.ts) polling the state table's stream, and the real stream publisher
 * (lambda/publish/stream-publisher.ts), whose bus is the main thread's (see publish.ts).
 */
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { ChangePublisher, PublishResult } from '../../lambda/process/publisher';
import { createStreamPublisher } from '../../lambda/publish/stream-publisher';
import type { MetricDatum } from '../../lambda/shared/metrics';
import { invocationRecord } from '../../scripts/oncall/invocation-record';
import { DynamoDbStreamSource, StreamFailure } from '../dynamodb-stream-source';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local-aws';
import { deserializeError } from './channel';
import { localDynamoDbClient, localDynamoDbStreamsClient, localSqsClient } from './clients';
import { BusAnswer, PUBLISH, PublishFunctionInit } from './publish';
import { runFunctionWorker } from './worker-runtime';

runFunctionWorker<PublishFunctionInit, void>(async (init, host) => {
  const bus: ChangePublisher = {
    async publish(changes): Promise<PublishResult> {
      const answer = await host.call<BusAnswer>(PUBLISH.putEvents, changes);
      return { failedChangeIds: answer.failedChangeIds, ...(answer.error ? { error: deserializeError(answer.error) } : {}) };
    },
  };
  const publisher = createStreamPublisher({
    bus,
    logger: host.logger('publish', init.logLevel),
    metrics: {
      put: (data: readonly MetricDatum[], extra?: Record<string, unknown>) =>
        void host.call(PUBLISH.metrics, { data, extra }).catch(() => undefined),
    },
  });
  // Lambda's event source sends a batch it gives up on to the on-failure destination as an
  // invocation record: where the batch is in the stream, not its records.
  const sqs = host.meter(localSqsClient(init.sqsEndpoint), 'SQS');
  const onFailure = async (failure: StreamFailure): Promise<void> => {
    if (!failure.streamArn || !failure.startSequenceNumber || !failure.endSequenceNumber)
      throw new Error('a stream batch without a stream ARN or sequence numbers cannot be named to the on-failure destination');
    const record = invocationRecord({
      streamArn: failure.streamArn,
      shardId: failure.shardId,
      startSequenceNumber: failure.startSequenceNumber,
      endSequenceNumber: failure.endSequenceNumber,
      batchSize: failure.batchSize,
      firstArrival: failure.firstArrival,
      lastArrival: failure.lastArrival,
      condition: 'RetryAttemptsExhausted',
      invokeCount: failure.invocations,
      functionArn: init.functionArn,
      functionError: failure.functionError,
    });
    await sqs.send(new SendMessageCommand({ QueueUrl: init.publisherDlqUrl, MessageBody: JSON.stringify(record) }));
  };
  const source = new DynamoDbStreamSource({
    endpoint: init.dynamodbEndpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    tableName: init.tableName,
    handler: (records) => publisher.publishRecords(records),
    logger: host.logger('change-feed', init.logLevel),
    pollIntervalMs: init.pollIntervalMs,
    retryAttempts: init.retryAttempts,
    onFailure,
    clients: {
      streams: host.meter(localDynamoDbStreamsClient(init.dynamodbEndpoint), 'DynamoDBStreams'),
      dynamodb: host.meter(localDynamoDbClient(init.dynamodbEndpoint), 'DynamoDB'),
    },
  });
  source.start();
  return {
    ready: undefined,
    handlers: {
      [PUBLISH.waitUntilIdle]: (timeoutMs) => source.waitUntilIdle(timeoutMs as number | undefined),
      [PUBLISH.failures]: () => source.failures,
      [PUBLISH.stats]: () => ({ ...source.stats }),
      // A direct invocation (Lambda's Invoke API): the handler's answer, as lambda/publish/handler.ts returns it.
      [PUBLISH.invoke]: async (event): Promise<DynamoDBBatchResponse> => {
        const { batchItemFailures } = await publisher.publishRecords((event as DynamoDBStreamEvent).Records);
        return { batchItemFailures };
      },
    },
    stop: async () => {
      await source.stop();
      sqs.destroy();
    },
  };
});
