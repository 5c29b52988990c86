/**
 * The example consumer's infrastructure: the pipeline, and an `onChange` rule that sends the
 * presence changes to the handler (../handler.ts). In your own app, import the construct from the
 * package: `import { LiveKitWebhookPipeline } from 'livekit-webhook-pipeline';`.
 *
 * Synthesize it from the repository root (it builds the handler with esbuild):
 *
 *     npx cdk synth --app 'npx tsx examples/presence-consumer/cdk/stack.ts' -c livekitUrl=https://my-project.livekit.cloud
 */
import { join } from 'node:path';
import { App, Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Construct } from 'constructs';
import { LiveKitWebhookPipeline } from '../../../lib';

export interface PresenceConsumerStackProps extends StackProps {
  /** The LiveKit server URL the reconciler calls, e.g. https://my-project.livekit.cloud. */
  readonly livekitUrl: string;
}

export class PresenceConsumerStack extends Stack {
  constructor(scope: Construct, id: string, props: PresenceConsumerStackProps) {
    super(scope, id, props);
    const pipeline = new LiveKitWebhookPipeline(this, 'LiveKit', { livekitUrl: props.livekitUrl });

    const presence = new NodejsFunction(this, 'PresenceConsumer', {
      entry: join(__dirname, '..', 'handler.ts'),
      handler: 'handler',
      runtime: Runtime.NODEJS_24_X,
      memorySize: 256,
      timeout: Duration.seconds(10),
    });
    // The presence changes only; the rule invokes the function asynchronously (Lambda retries a
    // failed invocation twice). The handler dedupes on changeId, so repeats change nothing.
    pipeline.onChange('Presence', {
      types: ['participant.joined', 'participant.left', 'participant.connection_aborted', 'participant.corrected', 'room.finished'],
      target: new targets.LambdaFunction(presence),
    });
    // A consumer that also reads the state (LiveKitStateClient) needs read access and the table name.
    pipeline.grantReadState(presence);
    presence.addEnvironment('STATE_TABLE_NAME', pipeline.table.tableName);
  }
}

if (require.main === module) {
  const app = new App();
  const livekitUrl: unknown = app.node.tryGetContext('livekitUrl');
  if (typeof livekitUrl !== 'string' || livekitUrl === '')
    throw new Error('set the LiveKit URL: -c livekitUrl=https://my-project.livekit.cloud');
  new PresenceConsumerStack(app, 'PresenceConsumerExample', { livekitUrl });
}
