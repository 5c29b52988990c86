import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OFFLINE_ENV, REPO_ROOT } from '../../support/paths';

/*
 * `npx cdk synth` exactly as a user runs it: offline, no AWS account, through bin/app.ts and the
 * pinned CLI. Slower than the in-process template tests, so only what those cannot show.
 */
const root = REPO_ROOT;
const cdk = join(root, 'node_modules', '.bin', 'cdk');
const offline = { ...OFFLINE_ENV, CDK_DISABLE_VERSION_CHECK: '1' };

/** `cdk synth` into a fresh directory with `-c` for each setting; what it wrote, printed and exited with. */
function synth(...settings: string[]) {
  const out = mkdtempSync(join(tmpdir(), 'synth-'));
  const result = spawnSync(cdk, ['synth', '--quiet', '--no-notices', '-o', out, ...settings.flatMap((setting) => ['-c', setting])], {
    cwd: root,
    env: offline,
    encoding: 'utf8',
  });
  return { out, status: result.status, stderr: result.stderr };
}

describe('cdk synth (the CLI, offline)', () => {
  it('writes a template with the webhook route, the function, the queue redriving to its DLQ and the secret', () => {
    const { out, status, stderr } = synth('livekit.url=https://my-project.livekit.cloud', 'queue.maxReceiveCount=4');
    if (status !== 0) throw new Error(`cdk synth failed:\n${stderr}`);
    const template = JSON.parse(readFileSync(join(out, 'LiveKitWebhooks.template.json'), 'utf8'));
    const resources = Object.values<{ Type: string; Properties: any }>(template.Resources);
    const ofType = (type: string) => resources.filter((r) => r.Type === type);

    expect(ofType('AWS::ApiGatewayV2::Route').map((r) => r.Properties.RouteKey)).toEqual(['POST /webhook']);
    expect(ofType('AWS::Lambda::Function').length).toBeGreaterThanOrEqual(1);
    expect(ofType('AWS::SecretsManager::Secret')).toHaveLength(1);
    const redrive = ofType('AWS::SQS::Queue')
      .map((q) => q.Properties.RedrivePolicy)
      .filter(Boolean);
    expect(redrive).toEqual([expect.objectContaining({ maxReceiveCount: 4, deadLetterTargetArn: expect.anything() })]);
    expect(Object.keys(template.Outputs)).toEqual(
      expect.arrayContaining(['WebhookUrl', 'QueueUrl', 'DeadLetterQueueUrl', 'LiveKitKeysSecretArn']),
    );
  });

  it('fails with a message naming each setting to fix when the config is invalid', () => {
    const result = synth('queue.maxReceiveCount=0', 'ingest.maxBodyBytes=lots');
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('"queue.maxReceiveCount" must be an integer from 1 to 1000, got "0"');
    expect(result.stderr).toContain('"ingest.maxBodyBytes" must be an integer from 1024 to 3000000, got "lots"');
    // Listed with the others, so one attempt shows every problem.
    expect(result.stderr).toContain('"livekit.url" is required to deploy');
  });

  it('names the stack from stackName, given in the JSON config like every other setting', () => {
    const { out, status, stderr } = synth('livekit.url=https://my-project.livekit.cloud', 'config={"stackName":"Named"}');
    if (status !== 0) throw new Error(`cdk synth failed:\n${stderr}`);
    expect(readdirSync(out).filter((file) => file.endsWith('.template.json'))).toEqual(['Named.template.json']);
  });

  it('refuses misspelt settings, an invalid stack name and settings that break a rule between them: one line each, no stack trace', () => {
    const settings = [
      'livekit.url=https://my-project.livekit.cloud',
      'alarm.pageTopicArn=arn:aws:sns:eu-west-1:123456789012:pages',
      'removalpolicy=destroy',
      'stackName=bad_name',
      'reconcile.intervalMinutes=30',
      'alarms.missedEventsEvaluationPeriods=100',
    ];
    const result = synth(...settings);
    expect(result.status).not.toBe(0);
    const problems = result.stderr.split('\n').filter((line) => line.startsWith('  - '));
    expect(problems).toEqual([
      '  - unknown setting "alarm.pageTopicArn"; did you mean "alarms.pageTopicArn"?',
      '  - unknown setting "removalpolicy"; did you mean "removalPolicy"?',
      '  - "stackName" must be a CloudFormation stack name: 1-128 letters, digits and "-", starting with a letter, got "bad_name"',
      '  - alarms.missedEventsEvaluationPeriods (100) x reconcile.intervalMinutes (30) is 3000 minutes: CloudWatch evaluates an alarm over at most one day (1440 minutes)',
    ]);
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  it('refuses to synth without livekit.url, in one line saying what to set (the reconciler would call localhost forever)', () => {
    const result = synth();
    expect(result.status).not.toBe(0);
    const ours = result.stderr.split('\n').filter((line) => line.includes('livekit.url'));
    expect(ours).toEqual([
      '"livekit.url" is required to deploy: the LiveKit server URL the reconciler calls, e.g. -c livekit.url=https://my-project.livekit.cloud',
    ]);
    expect(result.stderr).not.toContain('Invalid pipeline configuration');
  });
});
