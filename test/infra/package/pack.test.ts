import { REPO_ROOT } from '../../support/paths';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/*
 * The package as a platform team gets it: `npm run build` and `npm pack`, the tarball installed into a
 * fresh CDK app with `npm install --offline` (the tarball, and aws-cdk-lib and constructs from the
 * local npm cache that `npm ci` filled), a stack written against the package's public API, and
 * `node app.js` synthesising it. The app has no TypeScript, no esbuild and none of our sources:
 * the functions' code must come prebuilt from the tarball.
 */
const root = REPO_ROOT;
const PACKAGE = 'livekit-webhook-pipeline';
const LIVEKIT_URL = 'https://my-project.livekit.cloud';
const PAGER = 'arn:aws:sns:eu-west-1:123456789012:pagerduty';
const BUS = 'arn:aws:events:eu-west-1:123456789012:event-bus/platform';
const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/livekit-AbCdEf';

/**
 * aws-cdk-lib and constructs, and what they need that aws-cdk-lib does not bundle, as registry
 * tarball URLs of the versions in our package-lock. `npm ci` cached each tarball under its URL, and
 * a tarball URL installs offline from that cache without registry metadata (which `npm ci` does
 * not cache, so `name@version` would fail offline on a fresh clone).
 */
function cachedTarballs(names: readonly string[]): string[] {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')).packages as Record<
    string,
    { version: string; dependencies?: Record<string, string>; inBundle?: boolean }
  >;
  const registry = execFileSync('npm', ['config', 'get', 'registry'], { cwd: root, encoding: 'utf8' }).trim().replace(/\/$/, '');
  const versions = new Map<string, string>();
  const pending = [...names];
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (versions.has(name)) continue;
    const entry = lock[`node_modules/${name}`];
    if (!entry) throw new Error(`${name} is not in package-lock.json`);
    versions.set(name, entry.version);
    for (const dependency of Object.keys(entry.dependencies ?? {})) {
      const nested = lock[`node_modules/${name}/node_modules/${dependency}`];
      if (nested?.inBundle) continue; // shipped inside its parent's tarball
      if (nested) throw new Error(`${name} needs its own ${dependency}@${nested.version}; install it nested`);
      pending.push(dependency);
    }
  }
  return [...versions].map(([name, version]) => `${registry}/${name}/-/${name.split('/').pop()}-${version}.tgz`);
}
const quiet = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };

const APP = `
const { App, Stack } = require('aws-cdk-lib');
const events = require('aws-cdk-lib/aws-events');
const secretsmanager = require('aws-cdk-lib/aws-secretsmanager');
const sns = require('aws-cdk-lib/aws-sns');
const { LiveKitWebhookPipeline } = require('${PACKAGE}');

const app = new App({ outdir: 'cdk.out' });

// Only the required prop.
new LiveKitWebhookPipeline(new Stack(app, 'Minimal'), 'LiveKit', { livekitUrl: '${LIVEKIT_URL}' });

// The platform's own topic, bus and secret.
const byo = new Stack(app, 'BringYourOwn');
new LiveKitWebhookPipeline(byo, 'LiveKit', {
  livekitUrl: '${LIVEKIT_URL}',
  alarmTopic: sns.Topic.fromTopicArn(byo, 'Pager', '${PAGER}'),
  eventBus: events.EventBus.fromEventBusArn(byo, 'Bus', '${BUS}'),
  keysSecret: secretsmanager.Secret.fromSecretCompleteArn(byo, 'Keys', '${SECRET}'),
});
app.synth();
`;

describe('the npm package in a fresh CDK app (offline)', () => {
  let packDir: string;
  let appDir: string;
  let packedFiles: string[];
  const template = (stack: string) =>
    Template.fromJSON(JSON.parse(readFileSync(join(appDir, 'cdk.out', `${stack}.template.json`), 'utf8')));

  beforeAll(() => {
    packDir = mkdtempSync(join(tmpdir(), 'lkwp-pack-'));
    // What `prepack` runs, run first so its output stays out of `npm pack --json`'s.
    execFileSync('npm', ['run', 'build'], { cwd: root, env: quiet, stdio: 'pipe' });
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', packDir], {
        cwd: root,
        env: quiet,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    packedFiles = packed[0].files.map((file: { path: string }) => file.path);
    const tarball = join(packDir, packed[0].filename);

    appDir = mkdtempSync(join(tmpdir(), 'lkwp-app-'));
    writeFileSync(join(appDir, 'package.json'), JSON.stringify({ name: 'platform-cdk-app', version: '1.0.0', private: true }));
    execFileSync(
      'npm',
      ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', tarball, ...cachedTarballs(['aws-cdk-lib', 'constructs'])],
      { cwd: appDir, env: quiet, stdio: 'pipe' },
    );
    writeFileSync(join(appDir, 'app.js'), APP);
    execFileSync(process.execPath, ['app.js'], { cwd: appDir, env: quiet, stdio: 'pipe' });
  }, 600_000);

  afterAll(() => {
    for (const dir of [packDir, appDir]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('packs compiled JS, type declarations and the prebundled handlers, and no TypeScript source or test', () => {
    expect(packedFiles).toEqual(
      expect.arrayContaining([
        'package.json',
        'CHANGELOG.md',
        'dist/lib/index.js',
        'dist/lib/index.d.ts',
        'dist/contracts/index.js',
        'dist/contracts/index.d.ts',
      ]),
    );
    // With its source map: the functions run with --enable-source-maps.
    for (const fn of ['ingest', 'process', 'publish', 'reconcile'])
      expect(packedFiles).toEqual(expect.arrayContaining([`dist/handlers/${fn}/index.js`, `dist/handlers/${fn}/index.js.map`]));
    expect(packedFiles.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([]);
    expect(packedFiles.filter((file) => /^(test|lambda|lib|local|bin|scripts)\//.test(file))).toEqual([]);
  });

  it('ships the consumer kit: its SDK-free events entry loads anywhere, the full kit names the SDK it needs', () => {
    expect(packedFiles).toEqual(
      expect.arrayContaining([
        'dist/consumer/index.js',
        'dist/consumer/events.js',
        'dist/consumer/events.d.ts',
        'dist/consumer/change-event.schema.json',
      ]),
    );
    const probe = `
      const kit = require('${PACKAGE}/consumer/events');
      const detail = {
        changeId: 'c1', detailType: 'room.started', eventId: 'EV_1', eventType: 'room_started', source: 'webhook',
        occurredAt: '2026-01-01T00:00:00.000Z', entity: { type: 'room', roomSid: 'RM_1', roomName: 'standup' }, old: null,
        new: { status: 'active', rev: '1', info: {} },
      };
      const event = kit.changeEventOf(detail);
      const deduper = new kit.ChangeDeduper();
      let runs = 0;
      deduper.once(event, () => { runs++; }).then(() => deduper.once(event, () => { runs++; })).then((second) => {
        process.stdout.write(JSON.stringify({ source: event.source, detailType: event['detail-type'], second, runs, schema: typeof kit.CHANGE_DETAIL_SCHEMA }));
      });
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', probe], { cwd: appDir, env: quiet, encoding: 'utf8' }));
    expect(out).toEqual({ source: 'livekit.webhooks', detailType: 'room.started', second: false, runs: 1, schema: 'object' });
    // The full kit needs the AWS SDK's DynamoDB clients (optional peers, not installed in this app): it says which.
    expect(() =>
      execFileSync(process.execPath, ['-e', `require('${PACKAGE}/consumer')`], { cwd: appDir, env: quiet, stdio: 'pipe' }),
    ).toThrow(/@aws-sdk\//);
  });

  it('ships the on-call CLI as a bin, bundled with its SDK clients', () => {
    const bin = join(appDir, 'node_modules', '.bin', 'livekit-webhooks');
    const help = execFileSync(bin, ['--help'], { cwd: appDir, env: quiet, encoding: 'utf8' });
    for (const command of ['missed', 'state', 'replay', 'dlq-redrive']) expect(help).toMatch(new RegExp(`^  ${command} `, 'm'));
    // A usage error exits 2 with the subcommand's usage line under the CLI's name.
    let status: number | null = null;
    let stderr = '';
    try {
      execFileSync(bin, ['missed', '--bogus'], { cwd: appDir, env: quiet, stdio: 'pipe' });
    } catch (error) {
      ({ status } = error as { status: number | null });
      stderr = String((error as { stderr: Buffer }).stderr);
    }
    expect(status).toBe(2);
    expect(stderr).toContain('usage: livekit-webhooks missed');
  });

  it('installs without esbuild or TypeScript: the app synthesises with the prebuilt handler code', () => {
    expect(() => require.resolve('esbuild', { paths: [appDir] })).toThrow();
    expect(() => require.resolve('typescript', { paths: [appDir] })).toThrow();
    const functions = template('Minimal').findResources('AWS::Lambda::Function');
    expect(Object.keys(functions)).toHaveLength(4);
    const assets = readdirSync(join(appDir, 'cdk.out')).filter((entry) => entry.startsWith('asset.'));
    for (const fn of Object.values(functions) as Array<{ Properties: { Handler: string; Runtime: string; Code: { S3Key: string } } }>) {
      expect(fn.Properties).toMatchObject({ Handler: 'index.handler', Runtime: 'nodejs24.x' });
      const asset = assets.find((entry) => fn.Properties.Code.S3Key.startsWith(entry.slice('asset.'.length)));
      expect(asset).toBeDefined();
      expect(existsSync(join(appDir, 'cdk.out', asset!, 'index.js'))).toBe(true);
    }
  });

  it('with only livekitUrl: the whole pipeline, its own secret, bus, topics and key', () => {
    const t = template('Minimal');
    t.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /webhook' });
    t.resourceCountIs('AWS::DynamoDB::Table', 1);
    t.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    });
    t.resourceCountIs('AWS::SQS::Queue', 3); // events, their DLQ, the publisher's DLQ
    t.hasResourceProperties('AWS::SQS::Queue', { RedrivePolicy: Match.objectLike({ maxReceiveCount: 5 }) });
    t.resourceCountIs('AWS::SecretsManager::Secret', 1);
    t.resourceCountIs('AWS::Events::EventBus', 1);
    t.resourceCountIs('AWS::Events::Archive', 1);
    t.resourceCountIs('AWS::SNS::Topic', 2);
    t.resourceCountIs('AWS::KMS::Key', 1);
    t.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    expect(Object.keys(t.findResources('AWS::CloudWatch::Alarm')).length).toBeGreaterThanOrEqual(15);
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ LIVEKIT_URL }) } });
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
  });

  it('with its own topic, bus and secret: creates none of them, and wires those in', () => {
    const t = template('BringYourOwn');
    t.resourceCountIs('AWS::SNS::Topic', 0);
    t.resourceCountIs('AWS::KMS::Key', 0);
    t.resourceCountIs('AWS::Events::EventBus', 0);
    t.resourceCountIs('AWS::SecretsManager::Secret', 0);

    const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')).map((alarm: any) => alarm.Properties);
    expect(alarms.length).toBeGreaterThanOrEqual(15);
    for (const alarm of alarms) expect(alarm).toMatchObject({ AlarmActions: [PAGER], OKActions: [PAGER] });

    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ EVENT_BUS_NAME: 'platform' }) } });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'events:PutEvents', Resource: BUS })]) },
    });
    t.hasResourceProperties('AWS::Events::Archive', { SourceArn: BUS });
    const keyReaders = Object.values(t.findResources('AWS::Lambda::Function')).filter(
      (fn: any) => fn.Properties.Environment.Variables.LIVEKIT_KEYS_SECRET_ID === SECRET,
    );
    expect(keyReaders).toHaveLength(2); // ingest and the reconciler
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], Resource: SECRET }),
        ]),
      },
    });
  });
});
