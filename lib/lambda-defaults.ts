import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { PipelineConfig } from './config';

/** The Lambda runtime of every function; `NODE_TARGET` is the matching esbuild target. */
export const RUNTIME = lambda.Runtime.NODEJS_24_X;
export const NODE_TARGET = 'node24';

/**
 * Defaults every function of the pipeline shares: the latest Node LTS runtime on arm64 (cheaper
 * per GB-second and faster to start), bundled by the local esbuild (no Docker), minified with
 * source maps, an explicit log group whose retention comes from config, and a role that may write
 * to that log group and nothing else (instead of the AWS-managed AWSLambdaBasicExecutionRole,
 * which allows writing to any log group). `environment` given by the caller is merged over ours.
 */
export function defaultFunctionProps(
  scope: Construct,
  id: string,
  config: PipelineConfig,
  overrides: Partial<NodejsFunctionProps> = {},
): NodejsFunctionProps {
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
    retention: config.logRetentionDays as logs.RetentionDays,
    removalPolicy: config.removalPolicy === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  });
  const role = new iam.Role(scope, `${id}Role`, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `Runs ${scope.node.path}/${id}`,
  });
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      // The log group's ARN attribute ends in `:*`, which covers its streams and nothing else.
      resources: [logGroup.logGroupArn],
    }),
  );
  return {
    runtime: RUNTIME,
    architecture: lambda.Architecture.ARM_64,
    memorySize: 256,
    timeout: Duration.seconds(10),
    logGroup,
    role,
    ...overrides,
    environment: {
      NODE_OPTIONS: '--enable-source-maps',
      LOG_LEVEL: 'info',
      ...overrides.environment,
    },
    bundling: {
      minify: true,
      sourceMap: true,
      target: NODE_TARGET,
      format: OutputFormat.CJS,
      forceDockerBundling: false,
      // The Node runtime ships AWS SDK v3: using it keeps bundles small (the ingest bundle is
      // ~30 KB instead of ~500 KB) and cold starts short, which is what LiveKit's 3 s budget needs.
      externalModules: ['@aws-sdk/*'],
      ...overrides.bundling,
    },
  };
}
