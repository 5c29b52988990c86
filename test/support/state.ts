/** Reading the state table back whole, for assertions. */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '../../lambda/shared/logger';

export async function scanAll(ddb: DynamoDBDocumentClient, tableName: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const output = await ddb.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey, ConsistentRead: true }));
    items.push(...(output.Items ?? []));
    ExclusiveStartKey = output.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

/** Entity items only (no processing records or outbox), sorted by key: the "state" two runs must agree on. */
export async function entityState(ddb: DynamoDBDocumentClient, tableName: string): Promise<Record<string, unknown>[]> {
  return (await scanAll(ddb, tableName))
    .filter((item) => !String(item.pk).startsWith('EVENT#'))
    .sort((a, b) => `${String(a.pk)}|${String(a.sk)}`.localeCompare(`${String(b.pk)}|${String(b.sk)}`));
}

/** A logger that keeps its lines, so tests can assert what was logged without printing it. */
export function memoryLogger(level: 'debug' | 'info' | 'warn' | 'error' = 'debug'): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { logger: new Logger({ service: 'process-test', level, sink: (line) => lines.push(JSON.parse(line)) }), lines };
}
