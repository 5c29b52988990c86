import { Annotations, CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { CLEARTEXT_LIVEKIT_URL_WARNING, PipelineConfig } from './config';
import { importSecret } from './livekit-keys';
import { LiveKitWebhookPipeline } from './pipeline';
import { STATE_TABLE_LOGICAL_ID } from './processing';

export interface PipelineStackProps extends StackProps {
  /** The whole config, as `parseConfig` builds it from CDK context (bin/app.ts). */
  readonly config: PipelineConfig;
}

/**
 * The example app's stack (bin/app.ts): one `LiveKitWebhookPipeline` built from the config in CDK
 * context, and the outputs an operator needs. The pipeline has the id `Default`, which CDK leaves
 * out of logical ids, and pins the state table's logical id, so this stack's resources keep the
 * logical ids of PipelineStack 0.1 (before the construct): updating a deployed stack replaces no
 * table, queue, secret, bus, key or topic (test/infra/package/logical-ids.test.ts).
 */
export class PipelineStack extends Stack {
  public readonly pipeline: LiveKitWebhookPipeline;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config } = props;
    const { livekit, alarms } = config;

    this.pipeline = new LiveKitWebhookPipeline(this, 'Default', {
      livekitUrl: livekit.url,
      livekitApiKey: livekit.apiKey,
      webhookEvents: livekit.webhookEvents,
      keysSecret: livekit.existingSecretName
        ? importSecret(this, 'LiveKitKeysSecret', livekit.existingSecretName, livekit.existingSecretKeyArn)
        : undefined,
      ingest: config.ingest,
      queue: config.queue,
      processing: config.processing,
      reconcile: config.reconcile,
      alarms,
      logRetentionDays: config.logRetentionDays,
      systemLogLevel: config.systemLogLevel,
      removalPolicy: config.removalPolicy,
      stateTableLogicalId: STATE_TABLE_LOGICAL_ID,
    });
    const { pipeline } = this;
    // The construct takes no such prop (its users acknowledge in code): the example app does it for them.
    if (livekit.acknowledgeCleartextUrl) {
      Annotations.of(pipeline).acknowledgeWarning(
        CLEARTEXT_LIVEKIT_URL_WARNING,
        'livekit.acknowledgeCleartextUrl is true: a private network',
      );
    }

    new CfnOutput(this, 'WebhookUrl', {
      description: 'Give this URL to LiveKit (project webhook settings, or `webhooks` on an egress request)',
      value: pipeline.webhookUrl,
    });
    new CfnOutput(this, 'QueueUrl', { value: pipeline.queue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: pipeline.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'PublisherDeadLetterQueueUrl', {
      description: "The publisher's on-failure destination: stream ranges it gave up on (npm run publisher:redrive)",
      value: pipeline.processing.publisherDeadLetterQueue.queueUrl,
    });
    new CfnOutput(this, 'PublisherFunctionName', {
      description: "The function that publishes the state table's stream to the bus (npm run publisher:redrive invokes it)",
      value: pipeline.processing.publisherFunction.functionName,
    });
    new CfnOutput(this, 'StateTableName', {
      description: 'DynamoDB table with rooms, participants, tracks, egress and ingress',
      value: pipeline.table.tableName,
    });
    new CfnOutput(this, 'EventBusName', {
      description: 'EventBridge bus receiving one event per state change',
      value: pipeline.bus.eventBusName,
    });
    new CfnOutput(this, 'EventBusArn', {
      description: 'The bus archived events are replayed to (npm run replay)',
      value: pipeline.bus.eventBusArn,
    });
    new CfnOutput(this, 'EventArchiveArn', {
      description: 'Archive of every state change (npm run replay)',
      value: pipeline.archive.archiveArn,
    });
    new CfnOutput(this, 'PageTopicArn', {
      description: 'SNS topic of the alarms that page (loss or delay now); subscribe the pager here',
      value: pipeline.topics.page.topicArn,
    });
    new CfnOutput(this, 'TicketTopicArn', {
      description: 'SNS topic of the alarms that open a ticket',
      value: pipeline.topics.ticket.topicArn,
    });
    new CfnOutput(this, 'DashboardName', { description: 'CloudWatch dashboard of the pipeline', value: pipeline.dashboard.dashboardName });
    new CfnOutput(this, 'LiveKitKeysSecretArn', {
      description: pipeline.keysSecretCreated
        ? 'Put your LiveKit API key pairs here: {"<apiKey>": "<apiSecret>"}'
        : 'The existing secret the pipeline reads LiveKit API key pairs from',
      value: pipeline.keysSecret.secretArn,
    });
  }

  /** The pipeline's parts (escape hatches), as the tests reach them. */
  get keys() {
    return this.pipeline.keys;
  }
  get eventQueue() {
    return this.pipeline.eventQueue;
  }
  get ingest() {
    return this.pipeline.ingest;
  }
  get processing() {
    return this.pipeline.processing;
  }
  get reconciler() {
    return this.pipeline.reconciler;
  }
  get monitoring() {
    return this.pipeline.monitoring;
  }
}
