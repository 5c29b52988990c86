#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError, configInputFromContext, LIVEKIT_URL_REQUIRED, parseAppConfig, PipelineStack } from '../lib';

/**
 * The example app: one stack holding the `LiveKitWebhookPipeline` construct (lib/pipeline-stack.ts).
 * In your own CDK app, use the construct directly (docs/construct.md).
 *
 * The only place the CDK app reads context: the whole config as JSON under `config`, or any single
 * setting by its dotted path (`-c ingest.maxBodyBytes=32768`), the stack's name (`stackName`)
 * included. Every setting: docs/configuration.md.
 */
const app = new App();

try {
  // A deployed reconciler must call the real LiveKit: no localhost default here (npm run local keeps it).
  const { stackName, config } = parseAppConfig(configInputFromContext(app.node.getAllContext() as Record<string, unknown>), {
    requireLiveKitUrl: true,
  });
  new PipelineStack(app, stackName, {
    config,
    description: 'LiveKit webhook pipeline: verify-and-enqueue ingest, idempotent state, reconciliation against the LiveKit API',
  });
  // Synth fails on any unacknowledged AWS Solutions finding; each acknowledgement sits next to
  // the resource it concerns, with its reason.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
} catch (error) {
  if (error instanceof ConfigError) {
    // The one problem of every first `cdk synth`: said in one line.
    if (error.problems.length === 1 && error.problems[0] === LIVEKIT_URL_REQUIRED) process.stderr.write(`${LIVEKIT_URL_REQUIRED}\n`);
    else process.stderr.write(`${error.message}\nSet these with -c <setting>=<value> or in cdk.json "context".\n`);
    process.exit(1);
  }
  throw error;
}
