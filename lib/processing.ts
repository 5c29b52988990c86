import * as path from 'path';
import { Duration, RemovalPolicy, Token, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CHANGE_EVENT_SOURCE } from '../lambda/process/change-event';
import { TABLE_SCHEMA } from '../lambda/process/table-schema';
import { PipelineConfig } from './config';
import { defaultFunctionProps } from './lambda-defaults';

export interface ProcessingProps {
  readonly config: PipelineConfig;
  /** The event queue the processor consumes (its DLQ and redrive policy belong to the queue's owner). */
  readonly queue: sqs.IQueue;
  /** Days the bus archive keeps change events for replay. Default: 30. */
  readonly archiveRetentionDays?: number;
}

/** The stable logical id of the state table: renaming it in CloudFormation would replace the table. */
export const STATE_TABLE_LOGICAL_ID = 'StateTable';

/**
 * The processing stage: the process Lambda on the event queue (partial batch failures), the state
 * table (the key schema in lambda/process/table-schema.ts, a public interface), and the bus every
 * state change is published to, archived so consumers can replay what they missed.
 */
export class Processing extends Construct {
  public readonly table: dynamodb.Table;
  public readonly bus: events.EventBus;
  public readonly archive: events.Archive;
  public readonly function: NodejsFunction;

  constructor(scope: Construct, id: string, props: ProcessingProps) {
    super(scope, id);
    const { config, queue } = props;
    const { processing } = config;
    validate(props);

    this.table = new dynamodb.Table(this, 'StateTable', {
      partitionKey: { name: TABLE_SCHEMA.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_SCHEMA.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      timeToLiveAttribute: TABLE_SCHEMA.ttlAttribute,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: config.removalPolicy === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    for (const index of Object.values(TABLE_SCHEMA.indexes)) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: index.sortKey, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }
    (this.table.node.defaultChild as dynamodb.CfnTable).overrideLogicalId(STATE_TABLE_LOGICAL_ID);

    this.bus = new events.EventBus(this, 'Bus', { description: 'LiveKit state changes: one event per applied change' });
    this.archive = new events.Archive(this, 'Archive', {
      sourceEventBus: this.bus,
      eventPattern: { source: [CHANGE_EVENT_SOURCE] },
      retention: Duration.days(props.archiveRetentionDays ?? 30),
      description: 'Every state change, for consumers to replay',
    });

    this.function = new NodejsFunction(this, 'Function', {
      ...defaultFunctionProps(this, 'Function', config, {
        description: 'Applies queued LiveKit webhook events to the state table and publishes the changes',
        timeout: Duration.seconds(processing.timeoutSeconds),
        memorySize: 512,
        environment: {
          TABLE_NAME: this.table.tableName,
          EVENT_BUS_NAME: this.bus.eventBusName,
          EVENT_RECORD_TTL_DAYS: String(processing.eventRecordTtlDays),
          // After the function timeout the invocation that wrote an outbox item is gone.
          OUTBOX_LEASE_SECONDS: String(processing.timeoutSeconds),
        },
      }),
      entry: path.join(__dirname, '..', 'lambda', 'process', 'handler.ts'),
      handler: 'handler',
    });
    // Exactly what the processor calls (Query, GetItem, PutItem and DeleteItem, transactions of
    // Puts), not grantReadWriteData's scans, batch and stream reads.
    this.table.grant(this.function, 'dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem');
    this.bus.grantPutEventsTo(this.function);
    Validations.of(this.function.role!).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${STATE_TABLE_LOGICAL_ID}.Arn>/index/*]`,
      reason: "The processor queries the state table's own GSIs (the open and identity indexes); the wildcard covers those indexes of this one table and nothing else.",
    });

    this.function.addEventSource(
      new SqsEventSource(queue, {
        batchSize: processing.batchSize,
        maxBatchingWindow: processing.maxBatchingWindowSeconds > 0 ? Duration.seconds(processing.maxBatchingWindowSeconds) : undefined,
        maxConcurrency: processing.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
  }
}

function validate({ config, queue, archiveRetentionDays }: ProcessingProps): void {
  const problems: string[] = [];
  const { processing, queue: q } = config;
  const cfnQueue = queue.node.defaultChild as sqs.CfnQueue | undefined;
  const visibility = cfnQueue?.visibilityTimeout;
  // Only a queue defined in this app tells its timeout; an imported one cannot be checked here.
  if (typeof visibility === 'number' && !Token.isUnresolved(visibility) && visibility < processing.timeoutSeconds) {
    problems.push(`the queue's visibility timeout (${visibility} s) is shorter than the processor timeout (${processing.timeoutSeconds} s): SQS would redeliver records still being processed`);
  }
  // Processing records, outbox items and tombstones must outlive every redelivery of their event,
  // or a late duplicate would be applied (or an unpublished change dropped) after they expire.
  if (processing.eventRecordTtlDays <= q.retentionDays + q.dlqRetentionDays) {
    problems.push(
      `processing.eventRecordTtlDays (${processing.eventRecordTtlDays}) must exceed queue.retentionDays + queue.dlqRetentionDays (${q.retentionDays + q.dlqRetentionDays})`,
    );
  }
  if (processing.batchSize > 10 && processing.maxBatchingWindowSeconds < 1) {
    problems.push('a batchSize above 10 needs a maxBatchingWindowSeconds of at least 1');
  }
  if (archiveRetentionDays !== undefined && (!Number.isInteger(archiveRetentionDays) || archiveRetentionDays < 1)) {
    problems.push(`archiveRetentionDays must be a positive integer, got ${archiveRetentionDays}`);
  }
  if (problems.length > 0) throw new Error(`Invalid Processing props:\n  - ${problems.join('\n  - ')}`);
}
