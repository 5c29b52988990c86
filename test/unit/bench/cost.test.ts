import {
  accessLogBytesPerRequest,
  ASSUMED,
  cost,
  costAt,
  COST_GOAL_USD_PER_MILLION,
  eventEnvelopeBytes,
  platformLogBytesPerInvocation,
  PRICES,
  SYSTEM_LOG_LEVEL_DOC,
} from '../../../bench/cost';
import { Figure, SectionResult } from '../../../bench/types';
import { DEFAULT_CONFIG } from '../../../lib/config';

/*
 * The cost model's CloudWatch Logs line: our own log bytes (measured) plus Lambda's platform lines
 * only where the functions' system log level sends them. At WARN (the default) Lambda sends no
 * START/END/REPORT for a successful invocation, so none may be charged.
 */
const section = (id: string, figures: Record<string, Figure>): SectionResult => ({
  id,
  title: id,
  met: null,
  method: '',
  figures,
  seconds: 0,
});

// Figures in the shape the end-to-end, processor and loss sections report them (the values of one run).
const results = new Map<string, SectionResult>([
  [
    'endToEnd',
    section('endToEnd', {
      sqsRequestsPerEvent: 3,
      sqsSendPerEvent: 1,
      eventsPerInvocation: 1,
      publishInvocationsPerEvent: 0.23,
      ingestLogBytesPerEvent: 200,
      processLogBytesPerEvent: 250,
      publishLogBytesPerEvent: 101,
      metricLogBytesPerEvent: 280,
      ratePerSecond: 25,
      window1sSqsRequestsPerEvent: 2.387,
      window1sEventsPerInvocation: 2.59,
      window1sPublishInvocationsPerEvent: 0.187,
      window1sIngestLogBytesPerEvent: 200,
      window1sProcessLogBytesPerEvent: 245,
      window1sPublishLogBytesPerEvent: 100,
      window1sMetricLogBytesPerEvent: 110,
    }),
  ],
  [
    'processor',
    section('processor', {
      wcuPerEvent: 1.76,
      lowerBoundWcuPerEvent: 1.94,
      rcuPerEvent: 0,
      dynamodbRequestsPerEvent: 1,
      changesPerEvent: 0.95,
      meanChangeDetailBytes: 1000,
    }),
  ],
  ['loss', section('loss', { oursAttemptsPerEvent: 1, naiveAttemptsPerEvent: 1.037, naiveSlowAttemptsPerEvent: 0.324 })],
]);

const logsUsdPerMillion = (bytesPerEvent: number) => (bytesPerEvent / 2 ** 30) * PRICES.cloudWatchLogsIngestionPerGb * 1_000_000;
const OWN_BYTES = 200 + 250 + 101;
/** The process and publish functions' EMF lines (their metrics), measured separately. */
const METRIC_BYTES = 280;
const INVOCATIONS_PER_EVENT = 1 + 1 / 1 + 0.23;

/** The breakdown's rows of one receiver, by item. */
function rows(result: Awaited<ReturnType<typeof costAt>>, receiver: string): Map<string, readonly Figure[]> {
  return new Map(result.tables!.breakdown.rows.filter((row) => row[0] === receiver).map((row) => [row[1] as string, row]));
}

describe('cost model: Lambda platform lines by system log level', () => {
  it('charges no platform bytes at WARN and the assumed bytes per invocation at INFO and DEBUG', () => {
    expect(platformLogBytesPerInvocation('WARN')).toBe(0);
    expect(platformLogBytesPerInvocation('INFO')).toBe(ASSUMED.platformLogBytesPerInvocationAtInfo);
    expect(platformLogBytesPerInvocation('DEBUG')).toBe(ASSUMED.platformLogBytesPerInvocationAtInfo);
  });

  it('at WARN, the CloudWatch Logs line is our own measured lines only, and its basis says why, citing AWS', async () => {
    const result = await costAt('WARN', { results });
    const logs = rows(result, 'this pipeline').get('CloudWatch Logs')!;
    expect(logs[2]).toBeCloseTo(logsUsdPerMillion(OWN_BYTES + METRIC_BYTES), 3);
    expect(logs[3]).toContain(`${OWN_BYTES} B/event`);
    expect(logs[3]).toContain(`${METRIC_BYTES} B/event of their metrics' EMF lines`);
    expect(logs[3]).toContain('system log level WARN sends no START/END/REPORT');
    expect(logs[3]).toContain(SYSTEM_LOG_LEVEL_DOC);
    expect(logs[3]).not.toContain('assumed');
    expect(result.figures.systemLogLevel).toBe('WARN');
  });

  it('reports the same pipeline at INFO alongside, whose difference is exactly the platform lines', async () => {
    const result = await costAt('WARN', { results });
    const info = rows(result, 'this pipeline, system log level INFO');
    const platformUsd = logsUsdPerMillion(ASSUMED.platformLogBytesPerInvocationAtInfo * INVOCATIONS_PER_EVENT);
    expect(info.get('CloudWatch Logs')![2]).toBeCloseTo(logsUsdPerMillion(OWN_BYTES + METRIC_BYTES) + platformUsd, 3);
    expect(info.get('CloudWatch Logs')![3]).toContain(`assumed ${ASSUMED.platformLogBytesPerInvocationAtInfo} B of Lambda platform lines`);
    expect(info.get('**total**')![2]).toBeCloseTo((result.figures.oursUsdPerMillion as number) + platformUsd, 1);
    expect(result.figures.oursSystemLogInfoUsdPerMillion).toBeCloseTo((result.figures.oursUsdPerMillion as number) + platformUsd, 1);
  });

  it('at INFO, the pipeline line itself carries the platform lines (and no separate INFO rows)', async () => {
    const result = await costAt('INFO', { results });
    const logs = rows(result, 'this pipeline').get('CloudWatch Logs')!;
    expect(logs[2]).toBeCloseTo(
      logsUsdPerMillion(OWN_BYTES + METRIC_BYTES + ASSUMED.platformLogBytesPerInvocationAtInfo * INVOCATIONS_PER_EVENT),
      3,
    );
    expect(rows(result, 'this pipeline, system log level INFO').size).toBe(0);
  });

  it('prices the API access log line, rendered from the deployed format, once per request', async () => {
    const result = await costAt('WARN', { results });
    const access = rows(result, 'this pipeline').get('CloudWatch Logs: API access log')!;
    const bytes = accessLogBytesPerRequest();
    expect(bytes).toBeGreaterThan(200);
    expect(access[2]).toBeCloseTo(logsUsdPerMillion(bytes), 4);
    expect(access[3]).toContain(`${bytes} B per request`);
  });

  it("prices the bus archive: every change's detail and EventBridge's envelope, archived once and stored a month", async () => {
    const result = await costAt('WARN', { results });
    const archive = rows(result, 'this pipeline').get('EventBridge archive')!;
    const gb = (0.95 * (1000 + eventEnvelopeBytes())) / 2 ** 30;
    expect(eventEnvelopeBytes()).toBeGreaterThan(150);
    expect(archive[2]).toBeCloseTo(gb * (PRICES.eventBridgeArchivePerGb + PRICES.eventBridgeArchiveStoragePerGbMonth) * 1_000_000, 2);
  });

  it("prices the reconciler's month from the reconciler section's largest scale, when the run measured it", async () => {
    expect(Object.keys((await costAt('WARN', { results })).figures).some((k) => k.startsWith('reconcilerUsdPerMonth'))).toBe(false);
    const withReconciler = new Map(results);
    withReconciler.set(
      'reconciler',
      section('reconciler', {
        'rcuPerRun@100': 1,
        'wcuPerRun@100': 1,
        'meanRunMs@100': 500,
        'rcuPerRun@10000': 2500,
        'wcuPerRun@10000': 1000,
        'meanRunMs@10000': 12000,
      }),
    );
    const month = (await costAt('WARN', { results: withReconciler })).figures['reconcilerUsdPerMonth@10000'] as number;
    // The verification log read back at steady state: 60 runs (the default window) of the run's writes, 1 KB a write
    // unit, 0.5 read unit per 4 KB.
    const logRcu = (60 * 1000) / 8;
    const expected =
      43_200 *
      (((2500 + logRcu) * PRICES.dynamodbReadRequestUnitPerMillion +
        1000 * PRICES.dynamodbWriteRequestUnitPerMillion +
        PRICES.lambdaRequestsPerMillion) /
        1_000_000 +
        0.5 * 12 * PRICES.lambdaArmGbSecond);
    expect(month).toBeCloseTo(expected, 1);
  });

  it("the bench's section models the default config's level", async () => {
    expect(DEFAULT_CONFIG.systemLogLevel).toBe('WARN');
    const [ofDefault, atWarn] = await Promise.all([cost({ results } as never), costAt('WARN', { results })]);
    expect(ofDefault.figures).toEqual(atWarn.figures);
  });
});

describe('cost model: the goal', () => {
  const total = (result: Awaited<ReturnType<typeof costAt>>, receiver: string) => rows(result, receiver).get('**total**')![2] as number;

  it('is judged on the default config, and the one-write-unit figures differ from the totals by exactly the extra write units', async () => {
    const result = await costAt('WARN', { results });
    const ours = total(result, 'this pipeline');
    expect(result.met).toBe(ours <= COST_GOAL_USD_PER_MILLION);
    const extraWru = (1.76 - 1) * PRICES.dynamodbWriteRequestUnitPerMillion;
    expect(result.figures.oursOneWruUsdPerMillion).toBeCloseTo(ours - extraWru, 1);
    expect(result.figures.oursWindow1sOneWruUsdPerMillion).toBeCloseTo(total(result, 'this pipeline, 1 s window') - extraWru, 1);
  });

  it('gives the write units per event at which the 1 s window meets the goal: the windowed total there is the goal', async () => {
    const result = await costAt('WARN', { results });
    const wru = result.figures.window1sWruPerEventForGoal as number;
    const windowed = total(result, 'this pipeline, 1 s window');
    const atThatWru = windowed + (wru - 1.76) * PRICES.dynamodbWriteRequestUnitPerMillion;
    expect(atThatWru).toBeCloseTo(COST_GOAL_USD_PER_MILLION, 1);
  });

  it("prices the lower bound of write units (access patterns and the reconciler's read of live state): the one-WRU totals plus the bound's extra units", async () => {
    const result = await costAt('WARN', { results });
    const extra = (1.94 - 1) * PRICES.dynamodbWriteRequestUnitPerMillion;
    expect(result.figures.oursLowerBoundWruUsdPerMillion).toBeCloseTo((result.figures.oursOneWruUsdPerMillion as number) + extra, 1);
    expect(result.figures.oursWindow1sLowerBoundWruUsdPerMillion).toBeCloseTo(
      (result.figures.oursWindow1sOneWruUsdPerMillion as number) + extra,
      1,
    );
  });

  it('prices the request path alone: the one-WRU default without the log, access-log and archive lines', async () => {
    const result = await costAt('WARN', { results });
    const line = (item: string) => rows(result, 'this pipeline').get(item)![2] as number;
    const observability = line('CloudWatch Logs') + line('CloudWatch Logs: API access log') + line('EventBridge archive');
    expect(observability).toBeGreaterThan(0);
    expect(result.figures.oursOneWruNoObservabilityUsdPerMillion).toBeCloseTo(
      (result.figures.oursOneWruUsdPerMillion as number) - observability,
      1,
    );
  });

  it('is not met when the measured figures put the default above it', async () => {
    const costly = new Map(results);
    costly.set(
      'processor',
      section('processor', {
        wcuPerEvent: 5.83,
        lowerBoundWcuPerEvent: 1.94,
        rcuPerEvent: 1,
        dynamodbRequestsPerEvent: 4,
        changesPerEvent: 0.95,
        meanChangeDetailBytes: 1000,
      }),
    );
    expect((await costAt('WARN', { results: costly })).met).toBe(false);
  });
});
