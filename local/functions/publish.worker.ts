/**
 * The publish function on its own thread: the DynamoDB Streams event source's stand-in
 * (local/dynamodb-stream-source.ts) polling the state table's stream, and the real stream publisher
 * (lambda/publish/stream-publisher.ts), whose bus is the main thread's (see publish.ts).
 */
import type { ChangePublisher, PublishResult } from '../../lambda/process/publisher';
import { createStreamPublisher } from '../../lambda/publish/stream-publisher';
import type { MetricDatum } from '../../lambda/shared/metrics';
import { DynamoDbStreamSource } from '../dynamodb-stream-source';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local-aws';
import { deserializeError } from './channel';
import { localDynamoDbClient, localDynamoDbStreamsClient } from './clients';
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
  const source = new DynamoDbStreamSource({
    endpoint: init.dynamodbEndpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    tableName: init.tableName,
    handler: (records) => publisher.publishRecords(records),
    logger: host.logger('change-feed', init.logLevel),
    pollIntervalMs: init.pollIntervalMs,
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
    },
    stop: () => source.stop(),
  };
});
