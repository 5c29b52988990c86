/**
 * A `DedupeStore` in a DynamoDB table of the consumer's own, so every container of a Lambda
 * consumer (and every consumer process) sees the same handled ids. One conditional write per
 * change: the claim. The table needs a string partition key (`pk` by default) and, to let old ids
 * go, TTL on `expiresAt` (epoch seconds). Do not point it at the pipeline's state table: its key
 * schema is the pipeline's (docs/state-model.md), and consumers are granted read access only.
 */
import { ConditionalCheckFailedException, DynamoDBClient, DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ClaimResult, DedupeStore } from './dedupe';

export interface DynamoDbDedupeStoreOptions {
  readonly tableName: string;
  /** A client (or its configuration) for the table's region and account. Default: the SDK's defaults. */
  readonly client?: DynamoDBClient | DynamoDBClientConfig;
  /** The table's partition key (a string attribute). Default `pk`. */
  readonly partitionKey?: string;
  /** Prefix of each id's key, so one table can serve several consumers. Default `change#`. */
  readonly keyPrefix?: string;
  /** The table's TTL attribute (epoch seconds). Default `expiresAt`. */
  readonly ttlAttribute?: string;
}

export class DynamoDbDedupeStore implements DedupeStore {
  private readonly ddb: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly partitionKey: string;
  private readonly keyPrefix: string;
  private readonly ttlAttribute: string;

  constructor(options: DynamoDbDedupeStoreOptions) {
    const base = options.client instanceof DynamoDBClient ? options.client : new DynamoDBClient(options.client ?? {});
    this.ddb = DynamoDBDocumentClient.from(base);
    this.tableName = options.tableName;
    this.partitionKey = options.partitionKey ?? 'pk';
    this.keyPrefix = options.keyPrefix ?? 'change#';
    this.ttlAttribute = options.ttlAttribute ?? 'expiresAt';
  }

  private key(changeId: string): Record<string, string> {
    return { [this.partitionKey]: `${this.keyPrefix}${changeId}` };
  }

  private item(changeId: string, state: 'in-flight' | 'done', untilMs: number): Record<string, unknown> {
    // DynamoDB's TTL deletes some time after expiry; `untilMs` is what the conditions compare.
    return { ...this.key(changeId), state, untilMs, [this.ttlAttribute]: Math.ceil(untilMs / 1000) };
  }

  async claim(changeId: string, nowMs: number, leaseUntilMs: number): Promise<ClaimResult> {
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.tableName,
          Item: this.item(changeId, 'in-flight', leaseUntilMs),
          // Free, or its lease or record ran out (TTL deletion lags by up to days).
          ConditionExpression: 'attribute_not_exists(#pk) OR #until <= :now',
          ExpressionAttributeNames: { '#pk': this.partitionKey, '#until': 'untilMs' },
          ExpressionAttributeValues: { ':now': nowMs },
        }),
      );
      return 'claimed';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    const { Item } = await this.ddb.send(new GetCommand({ TableName: this.tableName, Key: this.key(changeId), ConsistentRead: true }));
    // Released between the two calls: someone is retrying it; say in flight so this delivery is retried too.
    return Item?.state === 'done' ? 'done' : 'in-flight';
  }

  async complete(changeId: string, expiresAtMs: number): Promise<void> {
    await this.ddb.send(new PutCommand({ TableName: this.tableName, Item: this.item(changeId, 'done', expiresAtMs) }));
  }

  async release(changeId: string): Promise<void> {
    try {
      await this.ddb.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: this.key(changeId),
          // Never forget a change another delivery completed meanwhile.
          ConditionExpression: '#state = :inflight',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':inflight': 'in-flight' },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}
