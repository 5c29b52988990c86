#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError, ConfigInput, parseConfig } from '../lib/config';
import { PipelineStack } from '../lib/pipeline-stack';

/**
 * The only place that reads CDK context. The whole config may be given as one JSON object
 * (`-c config='{"reconcile":{"intervalMinutes":2}}'`, or `"config"` in cdk.json), and any single
 * setting by its dotted path (`-c ingest.maxBodyBytes=32768`), which wins.
 */
const app = new App();

function readConfigInput(): ConfigInput {
  const raw = app.node.tryGetContext('config');
  let input: Record<string, any> = {};
  if (typeof raw === 'string') {
    try {
      input = JSON.parse(raw);
    } catch {
      throw new ConfigError([`context "config" must be a JSON object, got ${raw.slice(0, 80)}`]);
    }
  } else if (raw && typeof raw === 'object') {
    input = structuredClone(raw);
  }
  const sections = ['livekit', 'ingest', 'queue', 'processing', 'reconcile', 'alarms'];
  for (const [key, value] of Object.entries(app.node.getAllContext())) {
    const [section, field, ...rest] = key.split('.');
    if (rest.length === 0 && field !== undefined && sections.includes(section)) {
      input[section] = { ...input[section], [field]: value };
    } else if (key === 'logRetentionDays' || key === 'removalPolicy') {
      input[key] = value;
    }
  }
  return input;
}

try {
  const config = parseConfig(readConfigInput());
  new PipelineStack(app, app.node.tryGetContext('stackName') ?? 'LiveKitWebhooks', {
    config,
    description: 'LiveKit webhook pipeline: verify-and-enqueue ingest, idempotent state, reconciliation against the LiveKit API',
  });
  // Synth fails on any unacknowledged AWS Solutions finding; each acknowledgement sits next to
  // the resource it concerns, with its reason.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\nSet these with -c <setting>=<value> or in cdk.json "context".\n`);
    process.exit(1);
  }
  throw error;
}
