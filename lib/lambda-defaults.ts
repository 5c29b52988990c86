import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { PipelineConfig, SYSTEM_LOG_LEVELS, SystemLogLevelName } from './config';
import { removalPolicyOf } from './removal-policy';

/** The Lambda runtime of every function; `NODE_TARGET` is the matching esbuild target. */
export const RUNTIME = lambda.Runtime.NODEJS_24_X;
export const NODE_TARGET = 'node24';

/** The pipeline's functions, each `lambda/<name>/handler.ts` exporting `handler`. */
export const HANDLERS = ['ingest', 'process', 'publish', 'reconcile'] as const;
export type HandlerName = (typeof HANDLERS)[number];

/**
 * How every handler is bundled, the same for the CDK's bundling from source (this repository) and
 * for the package's prebuilt bundles (scripts/bundle-handlers.ts): minified CJS for the function's
 * Node target, with a source map. The Node runtime ships AWS SDK v3: using it keeps bundles small
 * (the ingest bundle is ~30 KB instead of ~500 KB) and cold starts short, which is what LiveKit's
 * 3 s budget needs.
 */
export const HANDLER_BUNDLING = {
  minify: true,
  sourceMap: true,
  target: NODE_TARGET,
  format: 'cjs',
  externalModules: ['@aws-sdk/*'],
} as const;

/**
 * Where the package keeps a handler bundled ahead of time: `dist/handlers/<name>/index.js` next to
 * `dist/lib/`. Present in the published package (`npm run build`), absent in this repository's
 * sources, where the handler is bundled from `lambda/<name>/handler.ts` at synth instead.
 */
export function prebuiltHandlerDir(name: HandlerName): string {
  return path.join(__dirname, '..', 'handlers', name);
}

/** The settings every function's defaults come from. */
export type FunctionDefaults = Pick<PipelineConfig, 'logRetentionDays' | 'removalPolicy' | 'systemLogLevel'>;

/**
 * The least detailed system log level a function may have, where `systemLogLevel` would drop
 * something worth its price. The reconciler runs once a minute (43,200 times a month): its
 * START/END/REPORT lines cost cents a month and give every run's duration, memory and init time,
 * which the reconciler runbooks read. The other functions run once or more per webhook, where the
 * same lines are the largest share of the CloudWatch Logs bill (bench/cost.ts).
 */
export const SYSTEM_LOG_LEVEL_FLOOR: Readonly<Partial<Record<HandlerName, SystemLogLevelName>>> = { reconcile: 'INFO' };

/** The system log level `name` runs at: the configured one, or its floor when that is more detailed. */
export function systemLogLevelOf(name: HandlerName, configured: SystemLogLevelName): SystemLogLevelName {
  const floor = SYSTEM_LOG_LEVEL_FLOOR[name];
  // SYSTEM_LOG_LEVELS runs from most to least detailed.
  return floor !== undefined && SYSTEM_LOG_LEVELS.indexOf(floor) < SYSTEM_LOG_LEVELS.indexOf(configured) ? floor : configured;
}

/**
 * Lambda's application log filter, set so that it never drops a line of ours. Our logger filters
 * by LOG_LEVEL itself; Lambda's filter would only do harm: it reads a line without a `level` key
 * (every EMF metric line, lambda/shared/metrics.ts) as INFO, and the same page says a line without
 * a valid RFC 3339 `timestamp` is assigned INFO too (ours carry `time`): any level above INFO
 * would drop our metrics (and the alarms on them), and any level but TRACE could drop debug lines.
 * TRACE, the most detailed, drops nothing.
 * https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html
 */
export const APPLICATION_LOG_LEVEL = lambda.ApplicationLogLevel.TRACE;

/** A function's own settings: everything but its code, handler, runtime, role and log group. */
export type PipelineFunctionProps = Omit<lambda.FunctionProps, 'code' | 'handler' | 'runtime' | 'role' | 'logGroup'>;

/**
 * One function of the pipeline, with the defaults they all share: the latest Node LTS runtime on
 * arm64 (cheaper per GB-second and faster to start), an explicit log group whose retention comes
 * from config, Lambda's JSON log format with the system log level from config (`systemLogLevelOf`)
 * and an application log level that filters nothing (`APPLICATION_LOG_LEVEL`), and a role that
 * may write to that log group and nothing else (instead of the
 * AWS-managed AWSLambdaBasicExecutionRole, which allows writing to any log group). The code is the
 * package's prebuilt bundle when there is one (a consumer's synth needs neither our TypeScript
 * sources nor esbuild), else `lambda/<name>/handler.ts` bundled by the local esbuild (no Docker).
 * `environment` given by the caller is merged over ours.
 */
export function pipelineFunction(
  scope: Construct,
  id: string,
  name: HandlerName,
  defaults: FunctionDefaults,
  props: PipelineFunctionProps,
): lambda.Function {
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
    retention: defaults.logRetentionDays as logs.RetentionDays,
    removalPolicy: removalPolicyOf(defaults.removalPolicy),
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
  const common = {
    runtime: RUNTIME,
    architecture: lambda.Architecture.ARM_64,
    memorySize: 256,
    timeout: Duration.seconds(10),
    logGroup,
    // Log-level filtering needs the JSON format. Our own lines (logger and EMF) are JSON objects
    // written straight to stdout, the form that page asks of code not using the runtime's console;
    // the runtime's JSON reformatting applies to its console methods, which we do not use. AWS's own
    // EMF library does the same under the JSON format, for the same reason: it writes through a
    // `new Console(process.stdout)` instead of the runtime's `console.log` (awslabs/aws-embedded-metrics-node
    // src/sinks/ConsoleSink.ts, PR #158), so CloudWatch still extracts the metrics.
    loggingFormat: lambda.LoggingFormat.JSON,
    systemLogLevelV2: lambda.SystemLogLevel[systemLogLevelOf(name, defaults.systemLogLevel)],
    applicationLogLevelV2: APPLICATION_LOG_LEVEL,
    role,
    ...props,
    environment: {
      NODE_OPTIONS: '--enable-source-maps',
      LOG_LEVEL: 'info',
      ...props.environment,
    },
  };
  const prebuilt = prebuiltHandlerDir(name);
  if (existsSync(path.join(prebuilt, 'index.js'))) {
    return new lambda.Function(scope, id, { ...common, code: lambda.Code.fromAsset(prebuilt), handler: 'index.handler' });
  }
  return new NodejsFunction(scope, id, {
    ...common,
    entry: path.join(__dirname, '..', 'lambda', name, 'handler.ts'),
    handler: 'handler',
    bundling: {
      ...HANDLER_BUNDLING,
      format: HANDLER_BUNDLING.format === 'cjs' ? OutputFormat.CJS : OutputFormat.ESM,
      externalModules: [...HANDLER_BUNDLING.externalModules],
      forceDockerBundling: false,
    },
  });
}
