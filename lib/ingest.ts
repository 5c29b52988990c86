import { Duration, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { PIPELINE_NAME_ENV } from '../contracts/metrics';
import { accessLogFields } from './access-log';
import { ClaimChecks } from './claim-checks';
import { ingestProblems, PipelineConfig } from './config';
import { pipelineFunction } from './lambda-defaults';
import { grantReadKeys } from './livekit-keys';
import { pipelineNameOf } from './pipeline-name';
import { removalPolicyOf } from './removal-policy';

export interface IngestProps {
  /** Its own settings, and the functions' log retention and removal policy. */
  readonly config: Pick<PipelineConfig, 'ingest' | 'logRetentionDays' | 'removalPolicy' | 'systemLogLevel'>;
  /** Where verified events go. */
  readonly queue: sqs.IQueue;
  /** LiveKit API key/secret pairs used to verify signatures. */
  readonly keys: secretsmanager.ISecret;
  /**
   * Where bodies too large for an SQS message go (ingest may only put objects under `events/`).
   * @default - none: such an event is answered 503 event_too_large
   */
  readonly claimChecks?: ClaimChecks;
  /**
   * The pipeline's name: the `Pipeline` dimension of the metrics counted from the function's log
   * and the access log. Must be the name Monitoring reads them under (its `namePrefix`).
   * @default - the stack name (the default `alarms.namePrefix`)
   */
  readonly pipelineName?: string;
}

/**
 * `POST /webhook` on an HTTP API, in front of a Lambda that verifies LiveKit's signature and
 * enqueues the event. It does nothing else, so it answers in milliseconds: LiveKit waits ~3 s, and
 * a slow answer holds up every later event of the same room.
 */
export class Ingest extends Construct {
  public readonly api: apigw.HttpApi;
  public readonly stage: apigw.HttpStage;
  public readonly function: lambda.Function;
  public readonly accessLogs: logs.LogGroup;
  /** The URL to give LiveKit. */
  public readonly webhookUrl: string;

  constructor(scope: Construct, id: string, props: IngestProps) {
    super(scope, id);
    const { ingest, logRetentionDays } = props.config;
    const problems = ingestProblems(ingest);
    if (problems.length > 0) throw new Error(`Invalid Ingest props:\n  - ${problems.join('\n  - ')}`);
    const pipelineName = pipelineNameOf(this, props.pipelineName);

    this.function = pipelineFunction(this, 'Function', 'ingest', props.config, {
      description: 'Verifies LiveKit webhook signatures and enqueues the events',
      // Verification is CPU-bound; more memory buys a proportionally faster CPU.
      memorySize: 512,
      // The handler bounds its own answer (ANSWER_BOUND_MS, 2 s) below LiveKit's 3 s; this is a backstop.
      timeout: Duration.seconds(5),
      // Caps ingest and keeps that much for it: a flood on the public URL cannot take the
      // account's concurrency from the processor and the reconciler (0: unreserved).
      ...(ingest.reservedConcurrency > 0 ? { reservedConcurrentExecutions: ingest.reservedConcurrency } : {}),
      environment: {
        QUEUE_URL: props.queue.queueUrl,
        LIVEKIT_KEYS_SECRET_ID: props.keys.secretArn,
        MAX_BODY_BYTES: String(ingest.maxBodyBytes),
        CLOCK_TOLERANCE_SECONDS: String(ingest.clockToleranceSeconds),
        KEY_CACHE_SECONDS: String(ingest.keyCacheSeconds),
        [PIPELINE_NAME_ENV]: pipelineName,
      },
    });
    props.queue.grantSendMessages(this.function);
    props.claimChecks?.grantPutClaimChecks(this.function);
    grantReadKeys(props.keys, this.function);

    this.api = new apigw.HttpApi(this, 'Api', {
      description: 'Receives LiveKit webhooks',
      createDefaultStage: false,
    });
    const [route] = this.api.addRoutes({
      path: '/webhook',
      methods: [apigw.HttpMethod.POST],
      integration: new HttpLambdaIntegration('Webhook', this.function),
    });
    Validations.of(route).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'LiveKit authenticates each request with a JWT signed by the API secret over the body hash, which no API ' +
        'Gateway authorizer can check (it needs the body); the ingest function verifies it before anything else.',
    });

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: logRetentionDays as logs.RetentionDays,
      removalPolicy: removalPolicyOf(props.config.removalPolicy),
    });
    this.stage = new apigw.HttpStage(this, 'Stage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: ingest.throttleRateLimit, burstLimit: ingest.throttleBurstLimit },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(accessLogFields(pipelineName))),
      },
    });
    this.webhookUrl = `${this.api.apiEndpoint}/webhook`;
  }
}
