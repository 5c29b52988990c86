import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { configInputFromContext, ConfigError, LiveKitWebhookPipeline, PipelineFunctions } from '../../../lib';
import { LIVEKIT_URL, synthPipeline } from '../../support/synth';

/*
 * Lambda's log-level controls on every function: the JSON format they need, the system level from
 * `systemLogLevel` (WARN by default: no START/END/REPORT lines for successful invocations; the
 * reconciler at least INFO), and an application level that drops nothing of ours (EMF lines have
 * no `level` key, which Lambda reads as INFO).
 */
type FunctionName = keyof PipelineFunctions;

/** Each function's LoggingConfig in the template, by its name in `functions`. */
function loggingConfigs(stack: Stack, functions: PipelineFunctions): Record<FunctionName, unknown> {
  const template = Template.fromStack(stack);
  const all = template.findResources('AWS::Lambda::Function');
  const byName = {} as Record<FunctionName, unknown>;
  for (const [name, fn] of Object.entries(functions) as [FunctionName, PipelineFunctions[FunctionName]][]) {
    const logicalId = stack.getLogicalId(fn.node.defaultChild as never);
    byName[name] = all[logicalId]?.Properties?.LoggingConfig;
  }
  // Every function of the stack is one of the four: none escapes the check.
  expect(Object.keys(all)).toHaveLength(4);
  return byName;
}

const expected = (systemLogLevel: string) => ({
  LogFormat: 'JSON',
  SystemLogLevel: systemLogLevel,
  ApplicationLogLevel: 'TRACE',
  LogGroup: expect.anything(),
});

describe('Lambda log levels', () => {
  it('by default: JSON, system level WARN on the per-webhook functions, INFO on the reconciler, application level TRACE', () => {
    const { stack } = synthPipeline();
    expect(loggingConfigs(stack, stack.pipeline.functions)).toEqual({
      ingest: expected('WARN'),
      process: expected('WARN'),
      publish: expected('WARN'),
      reconcile: expected('INFO'),
    });
  });

  it('-c systemLogLevel=INFO sends the platform lines of every function', () => {
    const { stack } = synthPipeline(configInputFromContext({ systemLogLevel: 'INFO' }));
    expect(loggingConfigs(stack, stack.pipeline.functions)).toEqual({
      ingest: expected('INFO'),
      process: expected('INFO'),
      publish: expected('INFO'),
      reconcile: expected('INFO'),
    });
  });

  it('systemLogLevel DEBUG applies to the reconciler too (its INFO is a floor, not a fixed level)', () => {
    const { stack } = synthPipeline({ systemLogLevel: 'DEBUG' });
    const configs = loggingConfigs(stack, stack.pipeline.functions);
    for (const name of ['ingest', 'process', 'publish', 'reconcile'] as const) expect(configs[name]).toEqual(expected('DEBUG'));
  });

  it("the construct's systemLogLevel prop sets it; an invalid one is a ConfigError naming the prop", () => {
    const stack = new Stack(new App(), 'Platform');
    const pipeline = new LiveKitWebhookPipeline(stack, 'LiveKit', { livekitUrl: LIVEKIT_URL, systemLogLevel: 'INFO' });
    expect(pipeline.config.systemLogLevel).toBe('INFO');
    expect(loggingConfigs(stack, pipeline.functions)).toMatchObject({ ingest: expected('INFO'), process: expected('INFO') });

    const other = new Stack(new App(), 'Other');
    expect(() => new LiveKitWebhookPipeline(other, 'LiveKit', { livekitUrl: LIVEKIT_URL, systemLogLevel: 'ERROR' as never })).toThrow(
      ConfigError,
    );
    expect(() => new LiveKitWebhookPipeline(other, 'LiveKit', { livekitUrl: LIVEKIT_URL, systemLogLevel: 'ERROR' as never })).toThrow(
      '"systemLogLevel" must be one of DEBUG, INFO, WARN, got "ERROR"',
    );
  });
});
