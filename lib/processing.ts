import { Duration, Token, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CHANGE_EVENT_SOURCE } from '../contracts/change-event';
import { PIPELINE_NAME_ENV } from '../contracts/metrics';
import { TABLE_SCHEMA } from '../contracts/table-schema';
import { PipelineConfig, processingProblems } from './config';
import { pipelineFunction } from './lambda-defaults';
import { pipelineNameOf } from './pipeline-name';
import { removalPolicyOf } from './removal-policy';

export interface ProcessingProps {
  /** Its own settings, the queue's retention (tombstones must outlive it), log retention and removal policy. */
  readonly config: Pick<PipelineConfig, 'processing' | 'queue' | 'logRetentionDays' | 'removalPolicy' | 'systemLogLevel'>;
  /** The event queue the processor consumes (its DLQ and redrive policy belong to the queue's owner). */
  readonly queue: sqs.IQueue;
  /** Days the bus archive keeps change events for replay. Default: 30. */
  readonly archiveRetentionDays?: number;
  /**
   * An existing EventBridge bus to publish the change feed to (and archive it from).
   * @default - a bus is created
   */
  readonly eventBus?: events.IEventBus;
  /**
   * The state table's CloudFormation logical id, pinned (`STATE_TABLE_LOGICAL_ID` for a stack
   * deployed by PipelineStack 0.1, whose table has that id: a changed logical id replaces the
   * table).
   * @default - the id CDK derives from the construct path
   */
  readonly tableLogicalId?: string;
  /**
   * The pipeline's name: the `Pipeline` dimension of the metrics the process and publish functions
   * emit. Must be the name Monitoring reads them under (its `namePrefix`).
   * @default - the stack name (the default `alarms.namePrefix`)
   */
  readonly pipelineName?: string;
}

/** The logical id of the state table in stacks deployed by PipelineStack 0.1 (bin/app.ts keeps it). */
export const STATE_TABLE_LOGICAL_ID = 'StateTable';

/**
 * Retries of a failing stream batch before the publisher gives up on it (Lambda's
 * `MaximumRetryAttempts`; bisection halves the batch on each function error, so a bad record is
 * isolated within a few attempts and the rest publish). Records stay in the stream 24 hours.
 */
export const PUBLISHER_RETRY_ATTEMPTS = 100;

/**
 * The processing stage: the process Lambda on the event queue (partial batch failures, one
 * conditional write per event), the state table (the key schema in contracts/table-schema.ts,
 * a public interface) with its stream, the publisher Lambda on that stream, and the bus every
 * state change is published to, archived so consumers can replay what they missed.
 */
export class Processing extends Construct {
  public readonly table: dynamodb.Table;
  /** The bus the change feed is published to: created here, or the one passed in. */
  public readonly bus: events.IEventBus;
  public readonly archive: events.Archive;
  public readonly function: lambda.Function;
  /** Turns the table's stream into changes on the bus. */
  public readonly publisherFunction: lambda.Function;
  /**
   * The publisher's on-failure destination: a message per stream batch given up on after
   * `PUBLISHER_RETRY_ATTEMPTS`, naming the shard and sequence numbers (the records stay in the
   * stream for 24 hours). Any message here is an unpublished change.
   */
  public readonly publisherDeadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: ProcessingProps) {
    super(scope, id);
    const { config, queue } = props;
    const { processing } = config;
    validate(props);
    const pipelineName = pipelineNameOf(this, props.pipelineName);

    this.table = new dynamodb.Table(this, 'StateTable', {
      partitionKey: { name: TABLE_SCHEMA.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_SCHEMA.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // With retain, a stack deletion or a replacing change cannot delete the table; destroy must be able to.
      deletionProtection: config.removalPolicy === 'retain',
      timeToLiveAttribute: TABLE_SCHEMA.ttlAttribute,
      // The change feed: every write with the item before and after it, read by the publisher.
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: removalPolicyOf(config.removalPolicy),
    });
    for (const index of Object.values(TABLE_SCHEMA.indexes)) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: index.sortKey, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }
    if (props.tableLogicalId !== undefined) (this.table.node.defaultChild as dynamodb.CfnTable).overrideLogicalId(props.tableLogicalId);

    this.bus = props.eventBus ?? new events.EventBus(this, 'Bus', { description: 'LiveKit state changes: one event per applied change' });
    this.archive = new events.Archive(this, 'Archive', {
      sourceEventBus: this.bus,
      eventPattern: { source: [CHANGE_EVENT_SOURCE] },
      retention: Duration.days(props.archiveRetentionDays ?? 30),
      description: 'Every state change, for consumers to replay',
    });

    this.function = pipelineFunction(this, 'Function', 'process', config, {
      description: 'Applies queued LiveKit webhook events to the state table, one conditional write each',
      timeout: Duration.seconds(processing.timeoutSeconds),
      memorySize: 512,
      environment: {
        TABLE_NAME: this.table.tableName,
        EVENT_RECORD_TTL_DAYS: String(processing.eventRecordTtlDays),
        [PIPELINE_NAME_ENV]: pipelineName,
      },
    });
    // Exactly what the processor calls: PutItem (conditional) on the base table. No reads, no
    // transactions, no index access.
    this.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:PutItem'], resources: [this.table.tableArn] }));

    this.function.addEventSource(
      new SqsEventSource(queue, {
        batchSize: processing.batchSize,
        maxBatchingWindow: processing.maxBatchingWindowSeconds > 0 ? Duration.seconds(processing.maxBatchingWindowSeconds) : undefined,
        maxConcurrency: processing.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );

    const policy = removalPolicyOf(config.removalPolicy);
    this.publisherDeadLetterQueue = new sqs.Queue(this, 'PublisherDeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: policy,
    });
    Validations.of(this.publisherDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: "This queue is the publisher's on-failure destination (Lambda stream event source): it is itself the dead-letter queue.",
    });
    this.publisherFunction = pipelineFunction(this, 'Publisher', 'publish', config, {
      description: "Publishes the state table's changes (its stream) to the EventBridge bus",
      timeout: Duration.seconds(30),
      memorySize: 256,
      environment: { EVENT_BUS_NAME: this.bus.eventBusName, [PIPELINE_NAME_ENV]: pipelineName },
    });
    this.bus.grantPutEventsTo(this.publisherFunction);
    Validations.of(this.publisherFunction.role!).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        "dynamodb:ListStreams, which Lambda's stream event source needs, has no resource-level permissions; the stream reads themselves (DescribeStream, GetRecords, GetShardIterator) are scoped to this table's stream.",
    });
    this.publisherFunction.addEventSource(
      new DynamoEventSource(this.table, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        bisectBatchOnError: true,
        retryAttempts: PUBLISHER_RETRY_ATTEMPTS,
        maxRecordAge: Duration.hours(24),
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(this.publisherDeadLetterQueue),
        // Entity writes only: event records, the reconciler's bookkeeping and TTL deletions make no
        // change, and filtered records cost no invocation.
        filters: [
          lambda.FilterCriteria.filter({
            eventName: lambda.FilterRule.or('INSERT', 'MODIFY'),
            dynamodb: { NewImage: { entityType: { S: lambda.FilterRule.exists() } } },
          }),
        ],
      }),
    );
  }
}

function validate({ config, queue, archiveRetentionDays }: ProcessingProps): void {
  const { processing, queue: q } = config;
  // The rules between settings live in config.ts; the queue's timeout is known only here.
  const problems = processingProblems(processing, q);
  const cfnQueue = queue.node.defaultChild as sqs.CfnQueue | undefined;
  const visibility = cfnQueue?.visibilityTimeout;
  // Only a queue defined in this app tells its timeout; an imported one cannot be checked here.
  if (typeof visibility === 'number' && !Token.isUnresolved(visibility) && visibility < processing.timeoutSeconds) {
    problems.push(
      `the queue's visibility timeout (${visibility} s) is shorter than the processor timeout (${processing.timeoutSeconds} s): SQS would redeliver records still being processed`,
    );
  }
  if (archiveRetentionDays !== undefined && (!Number.isInteger(archiveRetentionDays) || archiveRetentionDays < 1)) {
    problems.push(`archiveRetentionDays must be a positive integer, got ${archiveRetentionDays}`);
  }
  if (problems.length > 0) throw new Error(`Invalid Processing props:\n  - ${problems.join('\n  - ')}`);
}
