import { CfnElement, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { reconcileTimings } from '../lambda/reconcile/limits';
import { PIPELINE_NAME_ENV } from '../contracts/metrics';
import { keys } from '../contracts/table-schema';
import { PipelineConfig, reconcileProblems } from './config';
import { pipelineFunction } from './lambda-defaults';
import { grantReadKeys } from './livekit-keys';
import { pipelineNameOf } from './pipeline-name';

export interface ReconcilerProps {
  /** Its own settings, the LiveKit project's, and the functions' log retention and removal policy. */
  readonly config: Pick<PipelineConfig, 'reconcile' | 'livekit' | 'logRetentionDays' | 'removalPolicy' | 'systemLogLevel'>;
  /** The state table: read whole, written only under the reconciler's own `RECONCILE#` keys. */
  readonly table: dynamodb.ITable;
  /** Where repairs go: the same queue LiveKit's webhooks go to. */
  readonly queue: sqs.IQueue;
  /** LiveKit API key/secret pairs; the reconciler signs its API calls with one of them. */
  readonly keys: secretsmanager.ISecret;
  /**
   * The pipeline's name: the `Pipeline` dimension of the run metrics (the heartbeat, missed
   * events). Must be the name Monitoring reads them under (its `namePrefix`).
   * @default - the stack name (the default `alarms.namePrefix`)
   */
  readonly pipelineName?: string;
}

/**
 * The reconciler: a Lambda on an EventBridge schedule (config `reconcile.intervalMinutes`) that
 * diffs LiveKit's server API against the state table and sends repairs for the events LiveKit
 * never delivered through the event queue (docs/reconciler.md). Its timeout stays below the
 * interval, so scheduled runs do not overlap (an overlap is still harmless: repairs have
 * deterministic ids and are claimed with a conditional write).
 */
export class Reconciler extends Construct {
  public readonly function: lambda.Function;
  public readonly rule: events.Rule;
  /** No LiveKit call starts later than this into a run (passed to the handler). */
  public readonly timeBudgetMs: number;

  constructor(scope: Construct, id: string, props: ReconcilerProps) {
    super(scope, id);
    const { config } = props;
    const { reconcile } = config;
    const timings = reconcileTimings(reconcile.intervalMinutes);
    const problems = reconcileProblems(reconcile);
    if (problems.length > 0) throw new Error(`Invalid Reconciler props:\n  - ${problems.join('\n  - ')}`);
    this.timeBudgetMs = timings.timeBudgetMs;

    this.function = pipelineFunction(this, 'Function', 'reconcile', config, {
      description: "Diffs LiveKit's server API against the state table and repairs the webhooks LiveKit never delivered",
      // Sized for the SDK's worst case (10 s per attempt, 3 attempts on LiveKit Cloud) on a call
      // started at the end of the time budget, plus the writes after it; below the interval.
      timeout: Duration.seconds(timings.timeoutSeconds),
      // Tens of thousands of rooms: the ListRooms answer and the local state scan are held in memory.
      memorySize: 512,
      environment: {
        TABLE_NAME: props.table.tableName,
        QUEUE_URL: props.queue.queueUrl,
        LIVEKIT_URL: config.livekit.url,
        LIVEKIT_KEYS_SECRET_ID: props.keys.secretArn,
        ...(config.livekit.apiKey ? { LIVEKIT_API_KEY: config.livekit.apiKey } : {}),
        RECONCILE_INTERVAL_MINUTES: String(reconcile.intervalMinutes),
        RECONCILE_GRACE_SECONDS: String(reconcile.graceSeconds),
        RECONCILE_REQUEST_BUDGET: String(reconcile.requestBudgetPerRun),
        RECONCILE_CONCURRENCY: String(reconcile.concurrency),
        RECONCILE_FULL_CHECK_MINUTES: String(reconcile.fullCheckMinutes),
        RECONCILE_TIME_BUDGET_MS: String(timings.timeBudgetMs),
        RECONCILE_WEBHOOK_EVENTS: config.livekit.webhookEvents.join(','),
        [PIPELINE_NAME_ENV]: pipelineNameOf(this, props.pipelineName),
      },
    });

    props.table.grantReadData(this.function);
    // Writes only to its own bookkeeping items: every key it writes starts with RECONCILE#.
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'],
        resources: [props.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${keys.reconcilePrefix}*`] } },
      }),
    );
    props.queue.grantSendMessages(this.function);
    grantReadKeys(props.keys, this.function);
    // The finding names the table by its logical id, as the template will (after any override).
    const tableResource = props.table.node.defaultChild;
    const tableLogicalId = tableResource instanceof CfnElement ? (Stack.of(this).resolve(tableResource.logicalId) as string) : undefined;
    Validations.of(this.function.role!).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${tableLogicalId}.Arn>/index/*]`,
      reason:
        "The reconciler reads the state table's open index (live rooms, participants, egresses in one Scan); the wildcard covers this one table's indexes, read-only.",
    });

    this.rule = new events.Rule(this, 'Schedule', {
      description: `Runs the LiveKit reconciler every ${reconcile.intervalMinutes} minute(s)`,
      schedule: events.Schedule.rate(Duration.minutes(reconcile.intervalMinutes)),
    });
    // A failed run is not retried: the next scheduled run does the same work with fresh data.
    this.rule.addTarget(
      new targets.LambdaFunction(this.function, {
        retryAttempts: 0,
        maxEventAge: Duration.minutes(Math.max(1, reconcile.intervalMinutes)),
      }),
    );
  }
}
