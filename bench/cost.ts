/**
 * Cost per million webhooks on AWS, from the request and unit counts measured by the other sections
 * of this run and public list prices. Lambda durations on AWS cannot be measured here: they are
 * assumptions, labelled as such, and so are the prices (checked by hand, not fetched).
 */
import { randomUUID } from 'node:crypto';
import { CHANGE_EVENT_SOURCE } from '../contracts/change-event';
import { accessLogFields } from '../lib/access-log';
import { DEFAULT_CONFIG, DEFAULT_STACK_NAME, SystemLogLevelName } from '../lib/config';
import { verificationRetentionMs } from '../lambda/reconcile/bookkeeping';
import { BEFORE } from './processor';
import { BenchContext, round, Section, SectionResult, Table } from './types';

/** us-east-1 list prices. Not fetched (no network in the benchmark): check them before relying on the totals. */
export const PRICES = {
  asOf: '2025-06 (list prices as known to the author; verify on aws.amazon.com/pricing)',
  region: 'us-east-1',
  apiGatewayHttpPerMillion: 1.0, // HTTP API, first 300 M requests/month
  lambdaRequestsPerMillion: 0.2,
  lambdaArmGbSecond: 0.0000133334, // arm64, first 7.5 B GB-s/month
  sqsStandardPerMillion: 0.4, // per 64 KB chunk, after the free tier
  dynamodbWriteRequestUnitPerMillion: 0.625, // on-demand, after the Nov 2024 price cut
  dynamodbReadRequestUnitPerMillion: 0.125,
  eventBridgeCustomEventsPerMillion: 1.0, // per 64 KB entry
  eventBridgeArchivePerGb: 0.1, // events archived (processed into the archive)
  eventBridgeArchiveStoragePerGbMonth: 0.023,
  cloudWatchLogsIngestionPerGb: 0.5,
} as const;

/** The cost goal of the issue that set the one-write design (dollars per million webhooks). */
export const COST_GOAL_USD_PER_MILLION = 4.5;

/** Assumptions where this machine cannot measure AWS (each is labelled in the report). */
export const ASSUMED = {
  ingestMemoryGb: 0.5, // lib/ingest.ts memorySize 512
  processMemoryGb: 0.5, // lib/processing.ts memorySize 512
  naiveMemoryGb: 0.25,
  /** Ingest duration on AWS: verify (measured CPU, ~0.1 ms) + one SQS SendMessage round trip in-region. */
  ingestDurationMs: 15,
  /** One DynamoDB request in-region; a record's requests are sequential, a batch's records concurrent. */
  dynamodbRequestMs: 8,
  putEventsMs: 20,
  publisherMemoryGb: 0.25, // lib/processing.ts memorySize 256
  reconcileMemoryGb: 0.5, // lib/reconciler.ts memorySize 512
  /**
   * Lambda's start and report lines per invocation at system log level INFO (not written by the
   * local runtime, so not measured). At WARN Lambda sends neither for a successful invocation.
   */
  platformLogBytesPerInvocationAtInfo: 350,
  /** Report 1: the slow in-band write. */
  slowWriteMs: 10_000,
} as const;

/** AWS's page on Lambda's system log levels, which says what each level sends. */
export const SYSTEM_LOG_LEVEL_DOC = 'https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html';

/**
 * Bytes of Lambda platform lines (START/END/REPORT, or their JSON events) one successful invocation
 * sends at a system log level. INFO (Lambda's default) sends the start and report messages; WARN,
 * the pipeline's default for its per-webhook functions (`systemLogLevel`), sends neither
 * (SYSTEM_LOG_LEVEL_DOC). DEBUG sends at least what INFO does. A failed or timed-out invocation may
 * still send a line at WARN: too rare at the rates modelled here to price.
 */
export function platformLogBytesPerInvocation(level: SystemLogLevelName): number {
  return level === 'WARN' ? 0 : ASSUMED.platformLogBytesPerInvocationAtInfo;
}

/**
 * Bytes of one access log line of the HTTP API (lib/access-log.ts), its `$context` variables given
 * typical values of a LiveKit delivery: the line is the deployed format, the values are stated here.
 */
export function accessLogBytesPerRequest(pipelineName = DEFAULT_STACK_NAME): number {
  const sample: Record<string, string> = {
    '$context.requestId': 'KrPhmjXvoAMEJxw=',
    '$context.identity.sourceIp': '203.0.113.45',
    '$context.requestTime': '30/Nov/2026:15:30:00 +0000',
    '$context.httpMethod': 'POST',
    '$context.path': '/webhook',
    '$context.status': '200',
    '$context.responseLength': '52',
    '$context.responseLatency': '18',
    '$context.integrationLatency': '16',
    '$context.integrationErrorMessage': '-',
    // LiveKit's webhook client (go-retryablehttp over net/http) sends Go's default user agent.
    '$context.identity.userAgent': 'Go-http-client/1.1',
  };
  const fields = Object.fromEntries(Object.entries(accessLogFields(pipelineName)).map(([k, v]) => [k, sample[v] ?? v]));
  return Buffer.byteLength(JSON.stringify(fields)) + 1;
}

/** Bytes EventBridge's envelope adds to a change's `Detail` (the event as archived and delivered). */
export function eventEnvelopeBytes(): number {
  const envelope = {
    version: '0',
    id: randomUUID(),
    'detail-type': 'participant.joined',
    source: CHANGE_EVENT_SOURCE,
    account: '123456789012',
    time: '2026-11-30T15:30:00Z',
    region: PRICES.region,
    resources: [],
    detail: null,
  };
  return Buffer.byteLength(JSON.stringify(envelope)) - 'null'.length;
}

const num = (result: SectionResult | undefined, key: string): number => {
  const value = result?.figures[key];
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new Error(`cost needs ${result?.id ?? 'a section'}.${key}, which this run did not measure`);
  return value;
};

/**
 * The cost section for functions at system log level `systemLogLevel` (the per-webhook ones: ingest,
 * process, publish); the same model at INFO is reported alongside, for the difference.
 */
export async function costAt(
  systemLogLevel: SystemLogLevelName,
  { results }: Pick<BenchContext, 'results'>,
): Promise<Omit<SectionResult, 'seconds'>> {
  const e2e = results.get('endToEnd');
  const proc = results.get('processor');
  const lossResult = results.get('loss');
  const reconcilerResult = results.get('reconciler');
  const M = 1_000_000;

  // What the queue, the invocations and the log lines cost per event depends on how events batch:
  // measured end to end at the default config and again with a 1 s batching window.
  const traffic = (prefix: '' | 'window1s') => {
    const key = (name: string) => (prefix ? `${prefix}${name[0].toUpperCase()}${name.slice(1)}` : name);
    return {
      sqsPerEvent: num(e2e, key('sqsRequestsPerEvent')),
      eventsPerInvocation: num(e2e, key('eventsPerInvocation')),
      // Stream batches the publisher was invoked with, per event (the shard polled 4 times a second, as Lambda polls one).
      publisherInvocationsPerEvent: num(e2e, key('publishInvocationsPerEvent')),
      logBytesPerEvent:
        num(e2e, key('ingestLogBytesPerEvent')) + num(e2e, key('processLogBytesPerEvent')) + num(e2e, key('publishLogBytesPerEvent')),
      metricLogBytesPerEvent: num(e2e, key('metricLogBytesPerEvent')),
    };
  };
  const ingestLog = num(e2e, 'ingestLogBytesPerEvent');
  const wcu = num(proc, 'wcuPerEvent');
  const lowerBoundWcu = num(proc, 'lowerBoundWcuPerEvent');
  const rcu = num(proc, 'rcuPerEvent');
  const ddbRequests = num(proc, 'dynamodbRequestsPerEvent');
  const changes = num(proc, 'changesPerEvent');
  const changeDetailBytes = num(proc, 'meanChangeDetailBytes');
  const archivedEventBytes = changeDetailBytes + eventEnvelopeBytes();
  const accessLogBytes = accessLogBytesPerRequest();
  const oursAttempts = num(lossResult, 'oursAttemptsPerEvent');
  const naiveAttempts = num(lossResult, 'naiveAttemptsPerEvent');
  const naiveSlowAttempts = num(lossResult, 'naiveSlowAttemptsPerEvent');

  const gbSeconds = (memoryGb: number, ms: number) => memoryGb * (ms / 1000);
  // A batch's records run concurrently, each its own requests in sequence (now one conditional put).
  const processBatchMs = Math.max(1, ddbRequests) * ASSUMED.dynamodbRequestMs + 5;
  const publisherMs = ASSUMED.putEventsMs + 5;
  const logGb = (bytes: number) => bytes / 2 ** 30;

  // Per one webhook (an event LiveKit generated), then × 1 M.
  const cloudWatchLogs = (
    level: SystemLogLevelName,
    { eventsPerInvocation, publisherInvocationsPerEvent, logBytesPerEvent, metricLogBytesPerEvent }: ReturnType<typeof traffic>,
  ): [string, number, string] => {
    const invocationsPerEvent = oursAttempts + 1 / eventsPerInvocation + publisherInvocationsPerEvent;
    const platformBytes = platformLogBytesPerInvocation(level);
    const platform =
      platformBytes === 0
        ? `no Lambda platform lines: system log level ${level} sends no START/END/REPORT for a successful invocation (${SYSTEM_LOG_LEVEL_DOC})`
        : `assumed ${platformBytes} B of Lambda platform lines per invocation at system log level ${level} (${round(invocationsPerEvent, 2)} invocations/event)`;
    return [
      'CloudWatch Logs',
      logGb(logBytesPerEvent + metricLogBytesPerEvent + platformBytes * invocationsPerEvent) * PRICES.cloudWatchLogsIngestionPerGb * M,
      `${logBytesPerEvent} B/event of ingest, process and publish lines (measured at info) + ${metricLogBytesPerEvent} B/event of their metrics' EMF lines (measured) + ${platform}`,
    ];
  };
  const oursRows = (
    level: SystemLogLevelName,
    {
      sqsPerEvent,
      eventsPerInvocation,
      publisherInvocationsPerEvent,
      logBytesPerEvent,
      metricLogBytesPerEvent,
    }: ReturnType<typeof traffic>,
  ): [string, number, string][] => [
    [
      'API Gateway HTTP API',
      oursAttempts * PRICES.apiGatewayHttpPerMillion,
      `${round(oursAttempts, 3)} requests/event (measured HTTP attempts, report 1)`,
    ],
    ['Lambda ingest: requests', oursAttempts * PRICES.lambdaRequestsPerMillion, '1 invocation per request'],
    [
      'Lambda ingest: duration',
      oursAttempts * gbSeconds(ASSUMED.ingestMemoryGb, ASSUMED.ingestDurationMs) * PRICES.lambdaArmGbSecond * M,
      `assumed ${ASSUMED.ingestDurationMs} ms at ${ASSUMED.ingestMemoryGb * 1024} MB`,
    ],
    ['SQS', sqsPerEvent * PRICES.sqsStandardPerMillion, `${sqsPerEvent} requests/event (measured: send + receive + delete batch)`],
    [
      'Lambda process: requests',
      (1 / eventsPerInvocation) * PRICES.lambdaRequestsPerMillion,
      `${eventsPerInvocation} events/invocation (measured at the end-to-end rate)`,
    ],
    [
      'Lambda process: duration',
      (1 / eventsPerInvocation) * gbSeconds(ASSUMED.processMemoryGb, processBatchMs) * PRICES.lambdaArmGbSecond * M,
      `assumed ${round(processBatchMs, 0)} ms per batch (${ddbRequests} sequential DynamoDB requests × ${ASSUMED.dynamodbRequestMs} ms + 5 ms; records run concurrently)`,
    ],
    [
      'Lambda publish: requests',
      publisherInvocationsPerEvent * PRICES.lambdaRequestsPerMillion,
      `${round(publisherInvocationsPerEvent, 3)} invocations/event (measured: stream batches at the end-to-end rate, shard polled 4 times a second)`,
    ],
    [
      'Lambda publish: duration',
      publisherInvocationsPerEvent * gbSeconds(ASSUMED.publisherMemoryGb, publisherMs) * PRICES.lambdaArmGbSecond * M,
      `assumed ${publisherMs} ms per invocation (one PutEvents ${ASSUMED.putEventsMs} ms + 5 ms)`,
    ],
    ['DynamoDB Streams', 0, 'GetRecords by a Lambda event source is free (stated by AWS DynamoDB pricing)'],
    [
      'DynamoDB writes',
      wcu * PRICES.dynamodbWriteRequestUnitPerMillion,
      `${wcu} WRU/event (measured: room histories in the order LiveKit delivers them)`,
    ],
    ['DynamoDB reads', rcu * PRICES.dynamodbReadRequestUnitPerMillion, `${rcu} RRU/event (measured)`],
    ['EventBridge', changes * PRICES.eventBridgeCustomEventsPerMillion, `${changes} change entries/event (measured)`],
    [
      'EventBridge archive',
      changes * logGb(archivedEventBytes) * (PRICES.eventBridgeArchivePerGb + PRICES.eventBridgeArchiveStoragePerGbMonth) * M,
      `${changes} changes/event × ${archivedEventBytes} B (measured mean detail ${changeDetailBytes} B + EventBridge's envelope), archived once and stored a month (the default 30-day retention)`,
    ],
    cloudWatchLogs(level, { sqsPerEvent, eventsPerInvocation, publisherInvocationsPerEvent, logBytesPerEvent, metricLogBytesPerEvent }),
    [
      'CloudWatch Logs: API access log',
      oursAttempts * logGb(accessLogBytes) * PRICES.cloudWatchLogsIngestionPerGb * M,
      `${accessLogBytes} B per request: the stage's access log format (lib/access-log.ts) with typical values`,
    ],
  ];
  // The default config's measured traffic, read once.
  const defaultTraffic = traffic('');
  const ours = oursRows(systemLogLevel, defaultTraffic);
  const oursWindowed = oursRows(systemLogLevel, traffic('window1s'));
  // The same pipeline with Lambda's default system log level: only the CloudWatch Logs line differs.
  const atInfo = cloudWatchLogs('INFO', defaultTraffic);
  const oursCloudWatchLogs = ours.find(([item]) => item === 'CloudWatch Logs')!;
  // The naive receiver: API Gateway + one Lambda that verifies and does the same DynamoDB work in-band.
  // One write per delivery, as ours now does, but in-band: the cost difference is the queue and the feed.
  const naiveNormalMs = 2 + ASSUMED.dynamodbRequestMs;
  const naiveLine = (label: string, attempts: number, slowAttempts: number): [string, number, string][] => [
    [`API Gateway HTTP API (${label})`, attempts * PRICES.apiGatewayHttpPerMillion, `${round(attempts, 3)} requests/event`],
    [`Lambda: requests (${label})`, attempts * PRICES.lambdaRequestsPerMillion, '1 invocation per request'],
    [
      `Lambda: duration (${label})`,
      ((attempts - slowAttempts) * gbSeconds(ASSUMED.naiveMemoryGb, naiveNormalMs) +
        slowAttempts * gbSeconds(ASSUMED.naiveMemoryGb, ASSUMED.slowWriteMs)) *
        PRICES.lambdaArmGbSecond *
        M,
      `assumed ${naiveNormalMs} ms in-band per attempt${slowAttempts > 0 ? `, ${ASSUMED.slowWriteMs / 1000} s on the ${round(slowAttempts, 3)} slow attempts/event (measured)` : ''}`,
    ],
    [
      `DynamoDB writes (${label})`,
      attempts * PRICES.dynamodbWriteRequestUnitPerMillion,
      'assumed one ≤ 1 KB write (1 WRU) per delivery, retries included; no reads',
    ],
    [
      `CloudWatch Logs (${label})`,
      logGb((ingestLog + platformLogBytesPerInvocation('INFO')) * attempts) * PRICES.cloudWatchLogsIngestionPerGb * M,
      "assumed one ingest-sized line + platform lines per attempt (Lambda's default system log level, INFO)",
    ],
  ];
  const naiveHealthy = naiveLine('healthy day', 1, 0);
  const naiveReport1 = naiveLine('report 1', naiveAttempts, naiveSlowAttempts);
  const total = (rows: [string, number, string][]) => rows.reduce((a, r) => a + r[1], 0);
  const oursTotal = total(ours);
  const oursAtInfoTotal = oursTotal - oursCloudWatchLogs[1] + atInfo[1];
  const oursWindowedTotal = total(oursWindowed);
  // The 1 s window changes only the batching-dependent lines: show those.
  const windowedChanged = oursWindowed.filter(([item, usd]) => ours.find(([other]) => other === item)?.[1] !== usd);
  // Lines that scale with invocations and receives rather than with events: what batching can save.
  const BATCHING_DEPENDENT = new Set([
    'SQS',
    'Lambda process: requests',
    'Lambda process: duration',
    'Lambda publish: requests',
    'Lambda publish: duration',
    'CloudWatch Logs',
  ]);
  // SendMessage is one per event whatever the batching: counted with the per-event lines.
  const batchingDependent =
    total(ours.filter(([item]) => BATCHING_DEPENDENT.has(item))) - num(e2e, 'sqsSendPerEvent') * PRICES.sqsStandardPerMillion;
  // The goal against the design: the same pipeline with exactly one write unit per event (one
  // conditional put, no index entry at all: no key schema writes less), and the write units per
  // event at which the 1 s window would reach the goal.
  const dynamodbWrites = (rows: [string, number, string][]) => rows.find(([item]) => item === 'DynamoDB writes')![1];
  const oneWru = PRICES.dynamodbWriteRequestUnitPerMillion;
  const oursOneWruTotal = oursTotal - dynamodbWrites(ours) + oneWru;
  const oursWindowedOneWruTotal = oursWindowedTotal - dynamodbWrites(oursWindowed) + oneWru;
  const oursLowerBoundTotal = oursOneWruTotal + (lowerBoundWcu - 1) * oneWru;
  const oursWindowedLowerBoundTotal = oursWindowedOneWruTotal + (lowerBoundWcu - 1) * oneWru;
  const window1sWruForGoal = (COST_GOAL_USD_PER_MILLION - (oursWindowedTotal - dynamodbWrites(oursWindowed))) / oneWru;
  // What the request path alone costs at the default: the same one write unit, and no log line, no
  // access log and no archive at all (no observability): the floor below which no key schema and no
  // log setting can take the default config.
  // The lines the cost model before this design left out (with the EMF part of CloudWatch Logs, below).
  const LEFT_OUT_BEFORE = new Set(['CloudWatch Logs: API access log', 'EventBridge archive']);
  const OBSERVABILITY = new Set(['CloudWatch Logs', ...LEFT_OUT_BEFORE]);
  const oursOneWruNoObservabilityTotal = oursOneWruTotal - total(ours.filter(([item]) => OBSERVABILITY.has(item)));
  // The cost model before this design left out the EMF lines, the access log and the archive: today's total on that basis.
  const emfUsd = logGb(defaultTraffic.metricLogBytesPerEvent) * PRICES.cloudWatchLogsIngestionPerGb * M;
  const oursOnThenBasis = oursTotal - total(ours.filter(([item]) => LEFT_OUT_BEFORE.has(item))) - emfUsd;
  const rows = (owner: string, list: [string, number, string][]) => list.map(([item, usd, basis]) => [owner, item, round(usd, 3), basis]);
  const table: Table = {
    columns: ['receiver', 'item', 'USD per 1 M webhooks', 'basis'],
    rows: [
      ...rows('this pipeline', ours),
      [
        'this pipeline',
        '**total**',
        round(oursTotal, 2),
        `default config (batching window 0 s: lag first; systemLogLevel ${systemLogLevel})`,
      ],
      ...rows('this pipeline, 1 s window', windowedChanged),
      [
        'this pipeline, 1 s window',
        '**total**',
        round(oursWindowedTotal, 2),
        'processing.maxBatchingWindowSeconds 1 (the other lines as above); lag: see window1s figures of the end-to-end section',
      ],
      ...(systemLogLevel === 'INFO'
        ? []
        : [
            ...rows('this pipeline, system log level INFO', [atInfo]),
            [
              'this pipeline, system log level INFO',
              '**total**',
              round(oursAtInfoTotal, 2),
              "systemLogLevel INFO (Lambda's default; the other lines as above)",
            ],
          ]),
      ...rows('naive', naiveHealthy),
      ['naive', '**total, healthy day**', round(total(naiveHealthy), 2), 'no queue, no change feed, no reconciler'],
      ...rows('naive', naiveReport1),
      ['naive', '**total, report 1**', round(total(naiveReport1), 2), 'and the events LiveKit dropped are lost'],
    ],
  };
  // Not per webhook: the reconciler's month (one run a minute), from the reconciler section's
  // largest scale when this run measured it.
  const reconcilerMonth = (() => {
    const scale = reconcilerResult
      ? Math.max(...Object.keys(reconcilerResult.figures).flatMap((k) => /^rcuPerRun@(\d+)$/.exec(k)?.slice(1).map(Number) ?? []))
      : -Infinity;
    if (!Number.isFinite(scale)) return undefined;
    const runs = 43_200;
    const measuredRcuPerRun = num(reconcilerResult, `rcuPerRun@${scale}`);
    const wcuPerRun = num(reconcilerResult, `wcuPerRun@${scale}`);
    // The verification log (lambda/reconcile/bookkeeping.ts): each run reads the items of the
    // window's runs back, at the default config 60 of them; the bench's scale runs are fewer than
    // that, so its measured reads hold only part of the log. Priced as if every run's writes were
    // its log item (1 write unit = 1 KB; an eventually consistent read costs 0.5 unit per 4 KB),
    // added in full to what was measured: at most an overstatement.
    const { intervalMinutes, fullCheckMinutes } = DEFAULT_CONFIG.reconcile;
    const logRuns = verificationRetentionMs(fullCheckMinutes * 60_000, intervalMinutes * 60_000) / (intervalMinutes * 60_000);
    const logRcuPerRun = (logRuns * wcuPerRun) / 8;
    const rcuPerRun = measuredRcuPerRun + logRcuPerRun;
    const runMs = num(reconcilerResult, `meanRunMs@${scale}`);
    const usd =
      runs *
      ((rcuPerRun * PRICES.dynamodbReadRequestUnitPerMillion) / M +
        (wcuPerRun * PRICES.dynamodbWriteRequestUnitPerMillion) / M +
        PRICES.lambdaRequestsPerMillion / M +
        gbSeconds(ASSUMED.reconcileMemoryGb, runMs) * PRICES.lambdaArmGbSecond);
    return { scale, usd, rcuPerRun, measuredRcuPerRun, logRuns, logRcuPerRun, wcuPerRun, runMs, runs };
  })();
  const prices: Table = {
    columns: ['price', 'USD'],
    rows: Object.entries(PRICES)
      .filter(([k]) => k !== 'asOf' && k !== 'region')
      .map(([k, v]) => [k, v]),
  };
  return {
    id: 'cost',
    title: 'Cost per million webhooks on AWS',
    goal: `≤ $${COST_GOAL_USD_PER_MILLION} per 1 M webhooks at the default config`,
    met: oursTotal <= COST_GOAL_USD_PER_MILLION,
    method: `request/unit counts measured in this run (end to end, processor, loss) × ${PRICES.region} list prices as of ${PRICES.asOf}; Lambda durations assumed`,
    figures: {
      summary: `ours $${round(oursTotal, 2)} per 1 M webhooks ($${round(oursWindowedTotal, 2)} with a 1 s batching window); naive $${round(total(naiveHealthy), 2)} on a healthy day, $${round(total(naiveReport1), 2)} under report 1`,
      oursUsdPerMillion: round(oursTotal, 2),
      oursWindow1sUsdPerMillion: round(oursWindowedTotal, 2),
      oursSystemLogInfoUsdPerMillion: round(oursAtInfoTotal, 2),
      systemLogLevel,
      oursOneWruUsdPerMillion: round(oursOneWruTotal, 2),
      oursWindow1sOneWruUsdPerMillion: round(oursWindowedOneWruTotal, 2),
      oursLowerBoundWruUsdPerMillion: round(oursLowerBoundTotal, 2),
      oursWindow1sLowerBoundWruUsdPerMillion: round(oursWindowedLowerBoundTotal, 2),
      window1sWruPerEventForGoal: round(window1sWruForGoal, 2),
      oursOneWruNoObservabilityUsdPerMillion: round(oursOneWruNoObservabilityTotal, 2),
      ...(reconcilerMonth ? { [`reconcilerUsdPerMonth@${reconcilerMonth.scale}`]: round(reconcilerMonth.usd, 2) } : {}),
      naiveHealthyUsdPerMillion: round(total(naiveHealthy), 2),
      naiveReport1UsdPerMillion: round(total(naiveReport1), 2),
      pricesAsOf: PRICES.asOf,
    },
    tables: { breakdown: table, prices },
    notes: [
      `Before this design (${BEFORE.design}): $${BEFORE.costUsdPerMillion} per 1 M webhooks by the cost model of then, which left out the functions' metric (EMF) lines, the API access log and the bus archive (their lines above), so it compares with $${round(oursOnThenBasis, 2)} now on the same basis.`,
      `Lambda platform lines: the ingest, process and publish functions run at system log level ${systemLogLevel} (config systemLogLevel). At INFO, Lambda's default, their start and report lines would add $${round(atInfo[1] - oursCloudWatchLogs[1], 2)} per 1 M webhooks ($${round(oursAtInfoTotal, 2)} in all). The reconciler keeps at least INFO: one run a minute, not per webhook.`,
      `Where the money goes at the default config: $${round(oursTotal - batchingDependent, 2)} in lines paid once per event whatever the batching (API Gateway, ingest, SQS SendMessage, DynamoDB, EventBridge), $${round(batchingDependent, 2)} in lines that follow receives, invocations and log lines (SQS receives and deletes, the process and publish functions, CloudWatch Logs); at the measured rate each event was its own receive, delete and processor invocation (${defaultTraffic.eventsPerInvocation} events/invocation). With a 1 s batching window: $${round(oursWindowedTotal, 2)}, at the lag in the end-to-end section's window1s figures.`,
      `Against the goal (≤ $${COST_GOAL_USD_PER_MILLION}): with exactly one write unit per event, the least any key schema can write (one conditional put, no index entry), the default config would cost $${round(oursOneWruTotal, 2)} (${oursOneWruTotal <= COST_GOAL_USD_PER_MILLION ? 'within' : 'still above'} the goal) and a 1 s window $${round(oursWindowedOneWruTotal, 2)}; with a 1 s window the goal holds at up to ${round(window1sWruForGoal, 2)} write units per event, against ${wcu} measured. No key schema that keeps the documented access patterns and the reconciler's one read of live state writes less than ${lowerBoundWcu} units per event of this room history in order (docs/state-model.md, "Cost and lag"): at that bound, $${round(oursLowerBoundTotal, 2)} at the default and $${round(oursWindowedLowerBoundTotal, 2)} with a 1 s window; the shipped schema writes more because its identity index rewrites a session's entry at its leave and egress_updated rewrites its open-index entry. At the default, each event at this rate is its own SQS receive, delete and processor invocation: that is the price of lag first. The request path alone at the default and this rate (API Gateway, the three functions, SQS, EventBridge, one write unit), with no log line, no access log and no archive at all (though the alarms read log lines through metric filters), costs $${round(oursOneWruNoObservabilityTotal, 2)}: ${oursOneWruNoObservabilityTotal > COST_GOAL_USD_PER_MILLION ? 'above the goal before any observability' : `$${round(COST_GOAL_USD_PER_MILLION - oursOneWruNoObservabilityTotal, 2)} under the goal, all that would be left for logs, the access log and the archive`}.`,
      "Not per webhook, so not above: the reconciler (one run a minute: 43,200 runs/month; its duration at 10,000 rooms is in the reconciler section; its verifications are one log item per run, about 44 bytes a room checked), the SQS long polls of the event source when idle, KMS requests for the alarm topics' encryption (the queues use SQS-managed keys), CloudWatch metrics/alarms/dashboard, the keys secret, DynamoDB storage, and free tiers. The reconciler's part at scale is in the reconciler section (its read units per run).",
      ...(reconcilerMonth
        ? [
            `The reconciler's month at ${reconcilerMonth.scale} active rooms (not per webhook): ${reconcilerMonth.runs} runs × (${round(reconcilerMonth.rcuPerRun, 1)} read units: ${round(reconcilerMonth.measuredRcuPerRun, 1)} measured per run + ${round(reconcilerMonth.logRcuPerRun, 1)} for reading back the verification log of ${reconcilerMonth.logRuns} runs at steady state, priced from the measured writes per run; ${round(reconcilerMonth.wcuPerRun, 1)} write units measured per run; one invocation, ${round(reconcilerMonth.runMs / 1000, 1)} s at ${ASSUMED.reconcileMemoryGb * 1024} MB as measured here) = $${round(reconcilerMonth.usd, 2)} per month, whatever the webhook volume. Not included either: CloudWatch alarms ($0.10 each per month), the dashboard ($3), custom metrics, the KMS key of the alarm topics ($1) and the keys secret ($0.40).`,
          ]
        : []),
      `Rate: the receives, invocations and publisher batches per event above are measured at ${num(e2e, 'ratePerSecond')} events/s. At lower rates the publisher's stream batches carry fewer changes (about one invocation per event at a few events a second), so its lines grow by up to $${round(PRICES.lambdaRequestsPerMillion * (1 - defaultTraffic.publisherInvocationsPerEvent) + (1 - defaultTraffic.publisherInvocationsPerEvent) * gbSeconds(ASSUMED.publisherMemoryGb, publisherMs) * PRICES.lambdaArmGbSecond * M, 2)} per million; at higher rates SQS and the processor batch more and cost less.`,
      'The naive receiver is priced on stated assumptions, not measured units: one 1 KB write per delivery, logs at INFO, and (report 1) 10 s of Lambda time on each slow attempt.',
      'API Gateway meters requests in 512 KB increments and SQS/EventBridge in 64 KB chunks: LiveKit events are a few KB, one unit each.',
      `DynamoDB: ${ddbRequests} request and ${wcu} WRU per event: one conditional put per event (a duplicate or stale one is refused at the price of one write), plus the writes DynamoDB bills for the open and identity indexes when an entity enters or leaves them. The design before (a transaction of entity + processing record + outbox, then the outbox deletes) measured ${BEFORE.dynamodbRequestsPerEvent} requests and ${BEFORE.wcuPerEvent} WRU per event.`,
    ],
  };
}

/** The cost section at the pipeline's default system log level. */
export const cost: Section = (context) => costAt(DEFAULT_CONFIG.systemLogLevel, context);
