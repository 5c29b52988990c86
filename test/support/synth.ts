import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ConfigInput, parseConfig, PipelineConfig } from '../../lib/config';
import { PipelineStack } from '../../lib/pipeline-stack';

/** The whole stack, synthesised as `cdk synth` would, from config input as given in context. */
export function synthPipeline(input: ConfigInput = {}): { stack: PipelineStack; template: Template; config: PipelineConfig } {
  const app = new App();
  const config = parseConfig(input);
  const stack = new PipelineStack(app, 'TestPipeline', { config });
  return { stack, template: Template.fromStack(stack), config };
}

/** A bare stack for testing one construct on its own. */
export function bareStack(): Stack {
  return new Stack(new App(), 'TestStack');
}
