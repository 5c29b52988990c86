import { DynamoDBClient, DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** The document client the processor and the query helpers expect: event JSON may omit fields, so undefined values are dropped. */
export function createDocumentClient(client: DynamoDBClient | DynamoDBClientConfig = {}): DynamoDBDocumentClient {
  const base = client instanceof DynamoDBClient ? client : new DynamoDBClient(client);
  return DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true } });
}
