import { Stack } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { parseConfig } from '../../../lib/config';
import { PipelineStack } from '../../../lib/pipeline-stack';
import { LIVEKIT_URL, unacknowledgedNagFindings } from '../../support/synth';

/*
 * cdk-nag's AWS Solutions rules over the whole stack, as `cdk synth` runs them. Each accepted
 * finding is acknowledged next to its resource, with its reason; any other finding fails here.
 */
describe('cdk-nag AwsSolutionsChecks', () => {
  it.each([
    ['default config', { livekit: { url: LIVEKIT_URL } }],
    [
      'an existing secret and an alarm email',
      { livekit: { url: LIVEKIT_URL, existingSecretName: 'prod/livekit' }, alarms: { email: 'oncall@example.com' } },
    ],
    [
      'existing alarm topics',
      {
        livekit: { url: LIVEKIT_URL },
        alarms: { pageTopicArn: 'arn:aws:sns:eu-west-1:123456789012:pager', ticketTopicArn: 'arn:aws:sns:eu-west-1:123456789012:tickets' },
      },
    ],
  ])('finds nothing unacknowledged with %s', (_name, input) => {
    const findings = unacknowledgedNagFindings(
      (app) => new PipelineStack(app, 'NagPipeline', { config: parseConfig(input, { requireLiveKitUrl: true }) }),
    );
    expect(findings).toEqual([]);
  });

  it('reports a finding that is not acknowledged (the check itself can fail)', () => {
    const findings = unacknowledgedNagFindings(
      (app) => new sqs.Queue(new Stack(app, 'Bad'), 'PlainQueue', { encryption: sqs.QueueEncryption.UNENCRYPTED }),
    );
    expect(findings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/AwsSolutions-SQS3.*PlainQueue/),
        expect.stringMatching(/AwsSolutions-SQS4.*PlainQueue/),
      ]),
    );
  });
});
