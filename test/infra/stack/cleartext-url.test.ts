import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { synthPipeline } from '../../support/synth';

/*
 * The example app (PipelineStack, as `cdk synth -c livekit.url=...` builds it) warns about a
 * cleartext LiveKit URL on another host, and `livekit.acknowledgeCleartextUrl` silences it, so
 * `cdk synth --strict` passes for a LiveKit on a private network the team trusts.
 */
describe('the example app and a cleartext livekit.url', () => {
  const cleartext = (stack: ReturnType<typeof synthPipeline>['stack']) =>
    Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('is not TLS'));

  it('warns, naming the setting that acknowledges it', () => {
    const { stack } = synthPipeline({ livekit: { url: 'http://livekit.internal:7880' } });
    const warnings = cleartext(stack);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].entry.data).toContain('livekit.acknowledgeCleartextUrl');
  });

  it('says nothing with livekit.acknowledgeCleartextUrl, as a boolean or as -c text', () => {
    expect(cleartext(synthPipeline({ livekit: { url: 'http://livekit.internal:7880', acknowledgeCleartextUrl: true } }).stack)).toEqual([]);
    expect(cleartext(synthPipeline({ livekit: { url: 'http://livekit.internal:7880', acknowledgeCleartextUrl: 'true' } }).stack)).toEqual(
      [],
    );
  });
});
