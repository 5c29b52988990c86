import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigInput, parseConfig, PipelineConfig } from '../../lib/config';
import { PipelineStack } from '../../lib/pipeline-stack';

/** The LiveKit URL the test stacks are deployed against (`livekit.url` is required to deploy). */
export const LIVEKIT_URL = 'https://test-project.livekit.cloud';

/**
 * The whole stack, synthesised as `cdk synth` would, from config input as given in context (with
 * `livekit.url` set to LIVEKIT_URL unless the input sets it).
 */
export function synthPipeline(input: ConfigInput = {}): { stack: PipelineStack; template: Template; config: PipelineConfig } {
  const app = new App();
  const livekit = { url: LIVEKIT_URL, ...((input.livekit as object | undefined) ?? {}) };
  const config = parseConfig({ ...input, livekit }, { requireLiveKitUrl: true });
  const stack = new PipelineStack(app, 'TestPipeline', { config });
  return { stack, template: Template.fromStack(stack), config };
}

/** A bare stack for testing one construct on its own. */
export function bareStack(): Stack {
  return new Stack(new App(), 'TestStack');
}

/**
 * Synthesises `build`'s stack with cdk-nag's AwsSolutionsChecks, as bin/app.ts does, and returns
 * every finding that was not acknowledged, errors and warnings alike ("rule: construct path").
 */
export function unacknowledgedNagFindings(build: (app: App) => void): string[] {
  const outdir = mkdtempSync(join(tmpdir(), 'nag-'));
  const app = new App({ outdir });
  build(app);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  let synthError: unknown;
  try {
    app.synth();
  } catch (error) {
    synthError = error;
  }
  const reportFile = join(outdir, 'validation-report.json');
  if (!existsSync(reportFile)) {
    if (synthError) throw synthError as Error;
    return [];
  }
  const report = JSON.parse(readFileSync(reportFile, 'utf8'));
  const found: string[] = [];
  for (const pluginReport of report.pluginReports ?? []) {
    for (const violation of pluginReport.violations ?? []) {
      for (const construct of violation.violatingConstructs ?? []) found.push(`${violation.ruleName}: ${construct.constructPath}`);
    }
  }
  if (synthError && found.length === 0) throw synthError as Error;
  return found;
}
