import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { PipelineConfig } from './config';
import { EventQueue } from './event-queue';
import { Ingest } from './ingest';
import { LiveKitKeys } from './livekit-keys';
import { Monitoring } from './monitoring';
import { Processing } from './processing';
import { Reconciler } from './reconciler';

export interface PipelineStackProps extends StackProps {
  readonly config: PipelineConfig;
}

/**
 * The whole pipeline, one construct per concern: LiveKit → ingest → queue → processing → state,
 * with the reconciler and monitoring alongside. Environment-agnostic: it synthesises offline with
 * no account or region lookups.
 */
export class PipelineStack extends Stack {
  public readonly eventQueue: EventQueue;
  public readonly keys: LiveKitKeys;
  public readonly ingest: Ingest;
  public readonly processing: Processing;
  public readonly reconciler: Reconciler;
  public readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.keys = new LiveKitKeys(this, 'LiveKitKeys', { config });
    this.eventQueue = new EventQueue(this, 'Events', { config });
    this.ingest = new Ingest(this, 'Ingest', { config, queue: this.eventQueue.queue, keys: this.keys.secret });
    this.processing = new Processing(this, 'Processing', { config, queue: this.eventQueue.queue });
    this.reconciler = new Reconciler(this, 'Reconciler', { config, table: this.processing.table, queue: this.eventQueue.queue, keys: this.keys.secret });
    this.monitoring = new Monitoring(this, 'Monitoring', {
      config,
      stage: this.ingest.stage,
      accessLogGroup: this.ingest.accessLogs,
      ingestFunction: this.ingest.function,
      ingestLogGroup: this.ingest.function.logGroup,
      processFunction: this.processing.function,
      processLogGroup: this.processing.function.logGroup,
      queue: this.eventQueue.queue,
      deadLetterQueue: this.eventQueue.deadLetterQueue,
      reconcileFunction: this.reconciler.function,
      reconcileLogGroup: this.reconciler.function.logGroup,
      publisherFunction: this.processing.publisherFunction,
      publisherDeadLetterQueue: this.processing.publisherDeadLetterQueue,
    });

    new CfnOutput(this, 'WebhookUrl', {
      description: 'Give this URL to LiveKit (project webhook settings, or `webhooks` on an egress request)',
      value: this.ingest.webhookUrl,
    });
    new CfnOutput(this, 'QueueUrl', { value: this.eventQueue.queue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.eventQueue.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'StateTableName', { description: 'DynamoDB table with rooms, participants, tracks, egress and ingress', value: this.processing.table.tableName });
    new CfnOutput(this, 'EventBusName', { description: 'EventBridge bus receiving one event per state change', value: this.processing.bus.eventBusName });
    new CfnOutput(this, 'EventBusArn', { description: 'The bus archived events are replayed to (npm run replay)', value: this.processing.bus.eventBusArn });
    new CfnOutput(this, 'EventArchiveArn', { description: 'Archive of every state change (npm run replay)', value: this.processing.archive.archiveArn });
    new CfnOutput(this, 'PageTopicArn', { description: 'SNS topic of the alarms that page (loss or delay now); subscribe the pager here', value: this.monitoring.topics.page.topicArn });
    new CfnOutput(this, 'TicketTopicArn', { description: 'SNS topic of the alarms that open a ticket', value: this.monitoring.topics.ticket.topicArn });
    new CfnOutput(this, 'DashboardName', { description: 'CloudWatch dashboard of the pipeline', value: this.monitoring.dashboard.dashboardName });
    new CfnOutput(this, 'LiveKitKeysSecretArn', {
      description: this.keys.created
        ? 'Put your LiveKit API key pairs here: {"<apiKey>": "<apiSecret>"}'
        : 'The existing secret the pipeline reads LiveKit API key pairs from',
      value: this.keys.secret.secretArn,
    });
  }
}
