/**
 * AWS SDK clients for the local engines, built from an endpoint: each function worker builds its
 * own, as each Lambda does. Static credentials: the engines accept any, and these must never pick
 * up real ones.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../../lambda/process/document-client';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local-aws';

export function localSqsClient(endpoint: string): SQSClient {
  return new SQSClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
}

/**
 * DynamoDB Local serialises writes on one lock and, under a burst (a join storm, a large table
 * being deleted), answers some with HTTP 500 "This action timed out because it too long waiting
 * for a lock. This request will succeed in actual DynamoDB API". The SDK retries a 500; with its
 * default 3 attempts a processor batch failed on it, and SQS brought the event back only after
 * the visibility timeout (3 minutes by default): state lagged minutes behind for an artefact of
 * the local engine. More attempts (with the SDK's backoff) ride it out, as DynamoDB itself would
 * not have refused.
 */
const LOCAL_DYNAMODB_MAX_ATTEMPTS = 10;

export function localDynamoDbClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: LOCAL_DYNAMODB_MAX_ATTEMPTS });
}

export function localDocumentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return createDocumentClient(client);
}

export function localDynamoDbStreamsClient(endpoint: string): DynamoDBStreamsClient {
  return new DynamoDBStreamsClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 3 });
}
