import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CLEARTEXT_LIVEKIT_URL_WARNING,
  ConfigError,
  configInputFromContext,
  ConfigInput,
  configWarnings,
  DEFAULT_CONFIG,
  DEFAULT_STACK_NAME,
  LIVEKIT_URL_REQUIRED,
  parseAppConfig,
  parseConfig,
  queueVisibilityTimeoutSeconds,
} from '../../../lib/config';
import { REPO_ROOT } from '../../support/paths';

/** The problems parsing `input` reports, in order (none: []). */
function problemsOf(input: ConfigInput): readonly string[] {
  try {
    parseAppConfig(input);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems;
  }
}

describe('parseConfig', () => {
  it('gives the defaults when nothing is set', () => {
    expect(parseConfig({})).toEqual(DEFAULT_CONFIG);
  });

  it('reads numbers given as strings, as `-c key=value` delivers them', () => {
    const config = parseConfig({ queue: { maxReceiveCount: '3' }, ingest: { maxBodyBytes: '32768' } });
    expect(config.queue.maxReceiveCount).toBe(3);
    expect(config.ingest.maxBodyBytes).toBe(32768);
  });

  it("accepts by default every genuine event under LiveKit's default limits (2.5 MiB), and at most what a Lambda payload holds escaped (3,000,000)", () => {
    expect(DEFAULT_CONFIG.ingest.maxBodyBytes).toBe(2_621_440);
    // Worst case: both metadata (512 KiB) and the attributes (64 KiB), each doubled by escaping.
    expect(DEFAULT_CONFIG.ingest.maxBodyBytes).toBeGreaterThan(2 * (512 + 512 + 64) * 1024);
    expect(parseConfig({ ingest: { maxBodyBytes: 3_000_000 } }).ingest.maxBodyBytes).toBe(3_000_000);
    // Twice the largest body, plus headers and the request context, inside Lambda's 6 MiB payload.
    expect(2 * 3_000_000 + 256 * 1024).toBeLessThan(6 * 1_048_576);
  });

  it('reserves 100 concurrent executions for ingest by default, and none with 0', () => {
    expect(DEFAULT_CONFIG.ingest.reservedConcurrency).toBe(100);
    expect(parseConfig({ ingest: { reservedConcurrency: '0' } }).ingest.reservedConcurrency).toBe(0);
  });

  it('sends no platform lines for successful invocations by default (system log level WARN); -c systemLogLevel=INFO sends them', () => {
    expect(DEFAULT_CONFIG.systemLogLevel).toBe('WARN');
    expect(parseConfig(configInputFromContext({ systemLogLevel: 'INFO' })).systemLogLevel).toBe('INFO');
    expect(parseConfig({ systemLogLevel: 'DEBUG' }).systemLogLevel).toBe('DEBUG');
    expect(parseConfig(configInputFromContext({ config: '{"systemLogLevel":"INFO"}' })).systemLogLevel).toBe('INFO');
  });

  it('keeps an existing secret given by name or ARN', () => {
    expect(parseConfig({ livekit: { existingSecretName: 'prod/livekit' } }).livekit.existingSecretName).toBe('prod/livekit');
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/livekit-AbCdEf';
    expect(parseConfig({ livekit: { existingSecretName: arn } }).livekit.existingSecretName).toBe(arn);
  });

  it('keeps the KMS key of an existing secret, only with the secret', () => {
    const keyArn = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    expect(parseConfig({ livekit: { existingSecretName: 'prod/livekit', existingSecretKeyArn: keyArn } }).livekit).toMatchObject({
      existingSecretName: 'prod/livekit',
      existingSecretKeyArn: keyArn,
    });
    expect(parseConfig({}).livekit.existingSecretKeyArn).toBeUndefined();
    expect(problemsOf({ livekit: { existingSecretKeyArn: keyArn } })).toEqual([
      '"livekit.existingSecretKeyArn" is the key of "livekit.existingSecretName": set that too, or neither',
    ]);
  });

  it('reads livekit.webhookEvents as a list or a comma-separated string (-c); default every event type', () => {
    expect(DEFAULT_CONFIG.livekit.webhookEvents).toContain('participant_connection_aborted');
    expect(parseConfig({ livekit: { webhookEvents: ['room_started', 'room_finished'] } }).livekit.webhookEvents).toEqual([
      'room_started',
      'room_finished',
    ]);
    expect(parseConfig(configInputFromContext({ 'livekit.webhookEvents': 'room_started, egress_ended' })).livekit.webhookEvents).toEqual([
      'room_started',
      'egress_ended',
    ]);
  });

  it('lists every problem of livekit.webhookEvents', () => {
    try {
      parseConfig({ livekit: { webhookEvents: ['room_started', 'room_begun', 'room_started', 'participant_gone'] } });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect((error as ConfigError).problems).toEqual([
        expect.stringContaining('"livekit.webhookEvents" names an unknown event type "room_begun"'),
        expect.stringContaining('"livekit.webhookEvents" names an unknown event type "participant_gone"'),
        '"livekit.webhookEvents" names "room_started" more than once',
      ]);
    }
  });

  it.each([
    [{ livekit: { webhookEvents: [] } }, '"livekit.webhookEvents" must name at least one event type'],
    [{ livekit: { webhookEvents: 5 } }, '"livekit.webhookEvents" must be a list of webhook event types'],
    [{ queue: { maxReceiveCount: 0 } }, '"queue.maxReceiveCount" must be an integer from 1 to 1000, got 0'],
    [{ queue: { dlqRetentionDays: 15 } }, '"queue.dlqRetentionDays" must be an integer from 1 to 14'],
    [{ ingest: { maxBodyBytes: 'big' } }, '"ingest.maxBodyBytes" must be an integer'],
    [{ ingest: { maxBodyBytes: 3_000_001 } }, '"ingest.maxBodyBytes" must be an integer from 1024 to 3000000'],
    [{ ingest: { reservedConcurrency: -1 } }, '"ingest.reservedConcurrency" must be an integer from 0 to 10000'],
    [{ processing: { maxConcurrency: 1 } }, '"processing.maxConcurrency" must be an integer from 2 to 1000'],
    [{ processing: { batchSize: 100, maxBatchingWindowSeconds: 0 } }, 'above 10 needs "processing.maxBatchingWindowSeconds" of at least 1'],
    [{ livekit: { url: 'livekit.example.com' } }, '"livekit.url" must be an http(s) or ws(s) URL'],
    [{ livekit: { existingSecretName: 'has spaces' } }, '"livekit.existingSecretName" must be a Secrets Manager secret name or ARN'],
    [
      { livekit: { existingSecretName: 'prod/livekit', existingSecretKeyArn: 'arn:aws:kms:eu-west-1:123456789012:alias/livekit' } },
      '"livekit.existingSecretKeyArn" must be a KMS key ARN',
    ],
    [{ alarms: { email: 'oncall' } }, '"alarms.email" must be an email address'],
    [{ alarms: { namePrefix: 'has spaces' } }, '"alarms.namePrefix" must be 1-100 letters, digits'],
    [{ alarms: { pageTopicArn: 'pagerduty' } }, '"alarms.pageTopicArn" must be an SNS topic ARN'],
    [{ alarms: { ticketTopicArn: 'arn:aws:sqs:eu-west-1:123456789012:q' } }, '"alarms.ticketTopicArn" must be an SNS topic ARN'],
    [{ alarms: { runbookBaseUrl: 'docs/runbooks.md' } }, '"alarms.runbookBaseUrl" must be an http(s) URL'],
    [{ alarms: { runbookBaseUrl: 'https://example.com/runbooks#top' } }, 'without a #fragment'],
    [
      { alarms: { missedEventsEvaluationPeriods: 2, missedEventsDatapointsToAlarm: 3 } },
      '"alarms.missedEventsDatapointsToAlarm" (3) must not exceed "alarms.missedEventsEvaluationPeriods" (2)',
    ],
    [{ alarms: { missedEventsDatapointsToAlarm: 0 } }, '"alarms.missedEventsDatapointsToAlarm" must be an integer from 1 to 100'],
    [{ logRetentionDays: 10 }, '"logRetentionDays" must be one of 1, 3, 5, 7, 14, 30'],
    [{ removalPolicy: 'keep' }, '"removalPolicy" must be "retain" or "destroy"'],
    [{ systemLogLevel: 'ERROR' }, '"systemLogLevel" must be one of DEBUG, INFO, WARN, got "ERROR"'],
    [{ systemLogLevel: 'warn' }, '"systemLogLevel" must be one of DEBUG, INFO, WARN, got "warn"'],
    [{ ingest: { maxBodyByte: 1 } }, 'unknown setting "ingest.maxBodyByte"; did you mean "ingest.maxBodyBytes"?'],
    [{ reconciler: {} }, 'unknown setting "reconciler"; did you mean "reconcile"?'],
    [{ queue: 5 }, '"queue" must be an object'],
  ])('rejects %j saying what to fix', (input, message) => {
    expect(() => parseConfig(input)).toThrow(ConfigError);
    expect(() => parseConfig(input)).toThrow(message);
  });

  it('keeps the alarm settings: name prefix, topics by ARN, runbook base URL, missed-events M of N', () => {
    const alarms = {
      namePrefix: 'lkw-prod',
      pageTopicArn: 'arn:aws:sns:eu-west-1:123456789012:pagerduty-critical',
      ticketTopicArn: 'arn:aws-cn:sns:cn-north-1:123456789012:tickets',
      runbookBaseUrl: 'https://github.com/acme/lkw/blob/main/docs/runbooks.md',
      missedEventsThreshold: '4',
      missedEventsEvaluationPeriods: '5',
      missedEventsDatapointsToAlarm: '3',
    };
    expect(parseConfig({ alarms }).alarms).toEqual({
      ...alarms,
      missedEventsThreshold: 4,
      missedEventsEvaluationPeriods: 5,
      missedEventsDatapointsToAlarm: 3,
    });
    expect(
      parseConfig(configInputFromContext({ 'alarms.namePrefix': 'x', 'alarms.runbookBaseUrl': 'https://example.com/r' })).alarms,
    ).toMatchObject({ namePrefix: 'x', runbookBaseUrl: 'https://example.com/r' });
  });

  it('lowers the default M to N when only N is set below it', () => {
    expect(parseConfig({ alarms: { missedEventsEvaluationPeriods: 1 } }).alarms).toMatchObject({
      missedEventsEvaluationPeriods: 1,
      missedEventsDatapointsToAlarm: 1,
    });
  });

  it('requires livekit.url when asked to (deploying), listed with the other problems; the local default otherwise', () => {
    expect(parseConfig({}).livekit.url).toBe('http://localhost:7880');
    expect(() => parseConfig({}, { requireLiveKitUrl: true })).toThrow(LIVEKIT_URL_REQUIRED);
    expect(() => parseConfig({ livekit: { url: '' } }, { requireLiveKitUrl: true })).toThrow(LIVEKIT_URL_REQUIRED);
    expect(parseConfig({ livekit: { url: 'https://p.livekit.cloud' } }, { requireLiveKitUrl: true }).livekit.url).toBe(
      'https://p.livekit.cloud',
    );
    try {
      parseConfig({ queue: { maxReceiveCount: 0 } }, { requireLiveKitUrl: true });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect((error as ConfigError).problems).toHaveLength(2);
      expect((error as ConfigError).problems).toEqual(
        expect.arrayContaining([expect.stringContaining('queue.maxReceiveCount'), LIVEKIT_URL_REQUIRED]),
      );
    }
  });

  it('reports every problem at once', () => {
    try {
      parseConfig({ queue: { maxReceiveCount: 0 }, removalPolicy: 'keep' });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect((error as ConfigError).problems).toHaveLength(2);
    }
  });
});

describe('rules between settings', () => {
  it('refuses a missed-events alarm evaluated over more than a day (CloudWatch would), naming both settings', () => {
    expect(problemsOf({ reconcile: { intervalMinutes: 30 }, alarms: { missedEventsEvaluationPeriods: 100 } })).toEqual([
      'alarms.missedEventsEvaluationPeriods (100) x reconcile.intervalMinutes (30) is 3000 minutes: CloudWatch evaluates an alarm over at most one day (1440 minutes)',
    ]);
    // Exactly one day is allowed.
    expect(problemsOf({ reconcile: { intervalMinutes: 30 }, alarms: { missedEventsEvaluationPeriods: 48 } })).toEqual([]);
    expect(problemsOf({ reconcile: { intervalMinutes: 60 }, alarms: { missedEventsEvaluationPeriods: 25 } })).toHaveLength(1);
  });

  it('refuses a redrive a failing event cannot finish in half the queue retention: it would expire unpaged', () => {
    expect(problemsOf({ queue: { maxReceiveCount: 100 }, processing: { timeoutSeconds: 900 } })).toEqual([
      "queue.maxReceiveCount (100) x the queue's visibility timeout (5400 s, 6 x processing.timeoutSeconds + processing.maxBatchingWindowSeconds) " +
        'is 540000 s, more than half of queue.retentionDays (4 days = 345600 s): a failing event could expire before it reaches the DLQ, unpaged',
    ]);
    // Half of 1 day is 43200 s: 8 x 5400 s fits exactly, 9 does not; the batching window counts.
    expect(problemsOf({ queue: { retentionDays: 1, maxReceiveCount: 8 }, processing: { timeoutSeconds: 900 } })).toEqual([]);
    expect(problemsOf({ queue: { retentionDays: 1, maxReceiveCount: 9 }, processing: { timeoutSeconds: 900 } })).toEqual([
      expect.stringContaining('queue.maxReceiveCount (9)'),
    ]);
    expect(
      problemsOf({ queue: { retentionDays: 1, maxReceiveCount: 8 }, processing: { timeoutSeconds: 900, maxBatchingWindowSeconds: 1 } }),
    ).toEqual([expect.stringContaining('(5401 s,')]);
    // Raising the retention is the other way out.
    expect(problemsOf({ queue: { maxReceiveCount: 100, retentionDays: 14 }, processing: { timeoutSeconds: 60 } })).toEqual([]);
  });

  it('leaves the defaults far inside every rule', () => {
    const { queue, processing } = DEFAULT_CONFIG;
    expect(queue.maxReceiveCount * queueVisibilityTimeoutSeconds(processing)).toBeLessThan((queue.retentionDays * 86_400) / 100);
  });
});

describe('stackName', () => {
  it('defaults to LiveKitWebhooks', () => {
    expect(DEFAULT_STACK_NAME).toBe('LiveKitWebhooks');
    expect(parseAppConfig({}).stackName).toBe('LiveKitWebhooks');
  });

  it('is read from -c, from cdk.json context (the same key) and from the JSON config; a single setting wins', () => {
    expect(parseAppConfig(configInputFromContext({ stackName: 'Named' })).stackName).toBe('Named');
    expect(parseAppConfig(configInputFromContext({ config: '{"stackName":"Named"}' })).stackName).toBe('Named');
    expect(parseAppConfig(configInputFromContext({ config: { stackName: 'Named' } })).stackName).toBe('Named');
    expect(parseAppConfig(configInputFromContext({ config: '{"stackName":"Json"}', stackName: 'Flag' })).stackName).toBe('Flag');
  });

  it("is not part of the pipeline config (the construct lives in its app's stack)", () => {
    expect(parseConfig(configInputFromContext({ stackName: 'Named' }))).toEqual(DEFAULT_CONFIG);
  });

  it.each([
    ['bad_name', '"bad_name"'],
    ['1st', '"1st"'],
    ['', '""'],
    [`A${'b'.repeat(128)}`, `"A${'b'.repeat(128)}"`],
    [5, '5'],
  ])('refuses %j in one line naming it (CloudFormation stack name rules)', (stackName, shown) => {
    expect(problemsOf(configInputFromContext({ stackName }))).toEqual([
      `"stackName" must be a CloudFormation stack name: 1-128 letters, digits and "-", starting with a letter, got ${shown}`,
    ]);
  });

  it('accepts 128 characters', () => {
    expect(parseAppConfig({ stackName: `A${'-'.repeat(127)}` }).stackName).toHaveLength(128);
  });
});

describe('queueVisibilityTimeoutSeconds', () => {
  it('is six times the function timeout plus the batching window, as AWS recommends', () => {
    expect(queueVisibilityTimeoutSeconds({ ...DEFAULT_CONFIG.processing, timeoutSeconds: 30, maxBatchingWindowSeconds: 2 })).toBe(182);
  });
});

describe('configInputFromContext', () => {
  it('reads the whole config as JSON and lets dotted settings win', () => {
    const input = configInputFromContext({
      config: '{"queue":{"maxReceiveCount":3,"retentionDays":7}}',
      'queue.maxReceiveCount': '9',
      removalPolicy: 'destroy',
      '@aws-cdk/core:checkSecretUsage': true,
      stackName: 'Other',
    });
    expect(parseConfig(input).queue).toEqual({ ...DEFAULT_CONFIG.queue, maxReceiveCount: 9, retentionDays: 7 });
    expect(parseConfig(input).removalPolicy).toBe('destroy');
  });

  it('takes the config as an object, as cdk.json holds it', () => {
    expect(parseConfig(configInputFromContext({ config: { ingest: { maxBodyBytes: 2048 } } })).ingest.maxBodyBytes).toBe(2048);
  });

  it.each([
    ['alarm.pageTopicArn', 'arn:aws:sns:eu-west-1:123456789012:pages', 'alarms.pageTopicArn'],
    ['alarm.email', 'oncall@example.com', 'alarms.email'],
    ['removalpolicy', 'destroy', 'removalPolicy'],
    ['logretentiondays', '31', 'logRetentionDays'],
    ['ingest.throttle.rate', '5', 'ingest.throttleRateLimit'],
    ['Queue.maxReceiveCount', '3', 'queue.maxReceiveCount'],
    ['queues.maxReceiveCount', '3', 'queue.maxReceiveCount'],
    ['reconciler.intervalMinutes', '5', 'reconcile.intervalMinutes'],
    ['process.batchSize', '5', 'processing.batchSize'],
    ['alarms.pagetopicarn', 'arn:aws:sns:eu-west-1:123456789012:pages', 'alarms.pageTopicArn'],
    ['alarms.emial', 'oncall@example.com', 'alarms.email'],
    ['logRetention', '90', 'logRetentionDays'],
    ['livekitUrl', 'https://p.livekit.cloud', 'livekit.url'],
    ['stackname', 'Named', 'stackName'],
    ['confg', '{}', 'config'],
    ['config.queue.maxReceiveCount', '3', 'queue.maxReceiveCount'],
  ])('refuses the context key %j, meant as a setting, suggesting the setting', (key, value, meant) => {
    expect(problemsOf(configInputFromContext({ [key]: value }))).toEqual([`unknown setting "${key}"; did you mean "${meant}"?`]);
  });

  it("lists the section's settings when none is the one meant", () => {
    expect(problemsOf(configInputFromContext({ 'ingest.throttle': '5' }))).toEqual([
      'unknown setting "ingest.throttle" (the settings of "ingest": throttleRateLimit, throttleBurstLimit, maxBodyBytes, clockToleranceSeconds, keyCacheSeconds, reservedConcurrency)',
    ]);
  });

  it('refuses a section given as an object in context (cdk.json "context": {"alarms": {...}}), naming the dotted keys', () => {
    expect(problemsOf(configInputFromContext({ alarms: { pageTopicArn: 'arn:aws:sns:eu-west-1:123456789012:pages' } }))).toEqual([
      'context "alarms" names a section, not a setting: give each setting by its dotted name ("alarms.pageTopicArn"), or the whole section under "config"',
    ]);
    expect(problemsOf(configInputFromContext({ alarm: { email: 'a@b.co', namePrefix: 'x' } }))).toEqual([
      'context "alarm" names a section ("alarms"), not a setting: give each setting by its dotted name ("alarms.email", "alarms.namePrefix"), or the whole section under "config"',
    ]);
    expect(problemsOf(configInputFromContext({ queue: '5' }))).toEqual([
      'context "queue" names a section, not a setting: give each setting by its dotted name ("queue.maxReceiveCount"), or the whole section under "config"',
    ]);
  });

  it('lists the context problems with every other problem', () => {
    expect(problemsOf(configInputFromContext({ 'alarm.email': 'a@b.co', 'queue.maxReceiveCount': '0', removalpolicy: 'destroy' }))).toEqual(
      [
        'unknown setting "alarm.email"; did you mean "alarms.email"?',
        'unknown setting "removalpolicy"; did you mean "removalPolicy"?',
        '"queue.maxReceiveCount" must be an integer from 1 to 1000, got "0"',
      ],
    );
  });

  it("leaves alone the context keys that are not ours: cdk.json's feature flags, what the CDK CLI adds, cached lookups, others'", () => {
    const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
    const context = {
      ...cdkJson.context,
      // What `cdk synth` passes the app besides cdk.json (CDK_CONTEXT_JSON, aws-cdk 2.x).
      'aws:cdk:enable-path-metadata': true,
      'aws:cdk:enable-asset-metadata': true,
      'aws:cdk:version-reporting': true,
      'aws:cdk:bundling-stacks': ['**'],
      '@aws-cdk/core:failSynthOnValidationErrors': false,
      'acknowledged-issue-numbers': [32775],
      'availability-zones:account=123456789012:region=eu-west-1': ['eu-west-1a'],
      'ssm:account=123456789012:parameterName=/x:region=eu-west-1': 'v',
      team: 'video',
      environment: 'prod',
    };
    expect(Object.keys(cdkJson.context).length).toBeGreaterThan(0);
    expect(problemsOf(configInputFromContext(context))).toEqual([]);
  });

  it('suggests the setting for an unknown key inside the JSON config too, and says a dotted name must be nested there', () => {
    expect(
      problemsOf(
        configInputFromContext({ config: '{"alarm":{"email":"a@b.co"},"queue":{"maxreceivecount":3},"alarms.email":"a@b.co","foo":1}' }),
      ),
    ).toEqual([
      'unknown setting "alarm"; did you mean "alarms"?',
      'unknown setting "alarms.email" in "config": nest it, {"alarms":{"email":...}}',
      'unknown setting "foo" (known: livekit, ingest, queue, processing, reconcile, alarms, logRetentionDays, systemLogLevel, removalPolicy, stackName)',
      'unknown setting "queue.maxreceivecount"; did you mean "queue.maxReceiveCount"?',
    ]);
  });

  it('refuses a config that is not a JSON object', () => {
    expect(() => configInputFromContext({ config: '{oops' })).toThrow('context "config" must be a JSON object');
    expect(() => configInputFromContext({ config: '[1]' })).toThrow('context "config" must be a JSON object');
  });
});

/*
 * A LiveKit URL without TLS is valid (a self-hosted LiveKit on a private network may be served so)
 * but the reconciler's server API tokens cross it in cleartext: warned about unless the host is
 * this machine, as `npm run local`'s default is.
 */
describe('configWarnings', () => {
  const warningsFor = (url: string) => configWarnings(parseConfig({ livekit: { url } })).map((warning) => warning.id);

  it('warns about an http:// or ws:// LiveKit URL on another host, naming the URL and the risk', () => {
    for (const url of ['http://livekit.example.com', 'ws://livekit.example.com:7880', 'http://10.0.0.5:7880', 'http://127.example.com']) {
      expect([url, warningsFor(url)]).toEqual([url, [CLEARTEXT_LIVEKIT_URL_WARNING]]);
    }
    const [warning] = configWarnings(parseConfig({ livekit: { url: 'http://livekit.example.com' } }));
    expect(warning.message).toContain('http://livekit.example.com');
    expect(warning.message).toMatch(/cleartext.*roomAdmin/s);
  });

  it('is silent when acknowledged with livekit.acknowledgeCleartextUrl (a boolean, or -c text), and refuses other values', () => {
    const url = 'http://livekit.internal:7880';
    expect(configWarnings(parseConfig({ livekit: { url, acknowledgeCleartextUrl: true } }))).toEqual([]);
    expect(configWarnings(parseConfig(configInputFromContext({ 'livekit.url': url, 'livekit.acknowledgeCleartextUrl': 'true' })))).toEqual(
      [],
    );
    expect(configWarnings(parseConfig({ livekit: { url, acknowledgeCleartextUrl: false } })).map((w) => w.id)).toEqual([
      CLEARTEXT_LIVEKIT_URL_WARNING,
    ]);
    expect(() => parseConfig({ livekit: { url, acknowledgeCleartextUrl: 'yes' } })).toThrow(
      '"livekit.acknowledgeCleartextUrl" must be true or false, got "yes"',
    );
  });

  it('is silent for TLS, and for loopback (the local default included)', () => {
    expect(configWarnings(DEFAULT_CONFIG)).toEqual([]);
    for (const url of [
      'https://my-project.livekit.cloud',
      'wss://my-project.livekit.cloud',
      'http://localhost:7880',
      'http://LOCALHOST:7880',
      'ws://livekit.localhost',
      'http://127.0.0.1:7880',
      'http://127.1.2.3',
      'http://[::1]:7880',
    ]) {
      expect([url, warningsFor(url)]).toEqual([url, []]);
    }
  });
});
