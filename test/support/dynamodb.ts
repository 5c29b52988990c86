/**
 * The set-up the processor's integration tests share: DynamoDB Local for the whole test file, and
 * the environment the Lambda handlers read at import, pointed at it.
 */
import { DynamoDbLocal, LOCAL_CREDENTIALS, startDynamoDbLocal } from '../../local/engines/dynamodb-local';
import { stopChangeFeeds } from './change-feed';

export interface DynamoDbLocalForFile {
  /** The running engine (from beforeAll on). */
  readonly engine: DynamoDbLocal;
}

/**
 * Starts DynamoDB Local once for the file (beforeAll) and stops it after the file (afterAll), after
 * every change feed still running. With `feedsPerTest` (the default) the feeds a test started stop
 * after that test; without it a feed started in beforeAll serves the whole file.
 */
export function useDynamoDbLocal(options: { feedsPerTest?: boolean } = {}): DynamoDbLocalForFile {
  let engine: DynamoDbLocal | undefined;
  beforeAll(async () => {
    engine = await startDynamoDbLocal();
  });
  if (options.feedsPerTest ?? true) afterEach(stopChangeFeeds);
  afterAll(async () => {
    await stopChangeFeeds();
    await engine?.stop();
  });
  return {
    get engine(): DynamoDbLocal {
      if (!engine) throw new Error('useDynamoDbLocal(): DynamoDB Local did not start (see beforeAll)');
      return engine;
    },
  };
}

/** The environment lambda/process/handler (and lambda/publish/handler) read at import, against DynamoDB Local. */
export function processHandlerEnv(engine: DynamoDbLocal, tableName: string): Record<string, string> {
  return {
    TABLE_NAME: tableName,
    EVENT_RECORD_TTL_DAYS: '30',
    PIPELINE_NAME: 'lkw-test',
    LOG_LEVEL: 'error',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: engine.endpoint,
  };
}
