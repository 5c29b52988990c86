import { readFileSync } from 'node:fs';
import {
  ALARM_IDS,
  AlarmRule,
  alarmDescription,
  alarmName,
  alarmRules,
  evaluateAlarm,
  periodDatapoints,
  RUNBOOK_DOCUMENT,
  runbookLink,
  validateRule,
} from '../../../lib/alarm-rules';
import { DEFAULT_CONFIG, parseConfig } from '../../../lib/config';
import { measure } from '../../../scripts/measure-missed-alarm';
import { repoPath } from '../../support/paths';

const rule = (overrides: Partial<AlarmRule>): AlarmRule => ({
  ...alarmRules(DEFAULT_CONFIG)['dlq-not-empty'],
  threshold: 1,
  comparison: 'GreaterThanOrEqualToThreshold',
  evaluationPeriods: 3,
  datapointsToAlarm: 2,
  treatMissingData: 'notBreaching',
  ...overrides,
});

describe('evaluateAlarm (CloudWatch semantics)', () => {
  it('alarms when M of the last N datapoints breach, and not with M-1', () => {
    expect(evaluateAlarm(rule({}), [1, 0, 1])).toBe('ALARM');
    expect(evaluateAlarm(rule({}), [0, 0, 1])).toBe('OK');
  });

  it('evaluates only the last N periods', () => {
    expect(evaluateAlarm(rule({}), [1, 1, 0, 0, 1])).toBe('OK');
  });

  it.each([
    ['GreaterThanOrEqualToThreshold', 5, [5], 'ALARM'],
    ['GreaterThanThreshold', 5, [5], 'OK'],
    ['GreaterThanThreshold', 5, [6], 'ALARM'],
    ['LessThanThreshold', 1, [0], 'ALARM'],
    ['LessThanThreshold', 1, [1], 'OK'],
    ['LessThanOrEqualToThreshold', 1, [1], 'ALARM'],
  ] as const)('%s %d with %j is %s', (comparison, threshold, points, expected) => {
    expect(evaluateAlarm(rule({ comparison, threshold, evaluationPeriods: 1, datapointsToAlarm: 1 }), points)).toBe(expected);
  });

  it('counts missing datapoints as breaching with treatMissingData breaching', () => {
    const heartbeat = rule({
      comparison: 'LessThanThreshold',
      threshold: 1,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      treatMissingData: 'breaching',
    });
    expect(evaluateAlarm(heartbeat, [undefined, undefined, undefined])).toBe('ALARM');
    expect(evaluateAlarm(heartbeat, [undefined, 1, undefined])).toBe('OK');
    expect(evaluateAlarm(heartbeat, [])).toBe('ALARM');
  });

  it('counts missing datapoints as fine with notBreaching', () => {
    expect(evaluateAlarm(rule({}), [undefined, 1, undefined])).toBe('OK');
    expect(evaluateAlarm(rule({}), [undefined, undefined, undefined])).toBe('OK');
  });

  it('is INSUFFICIENT_DATA with treatMissingData missing and no datapoint at all', () => {
    expect(evaluateAlarm(rule({ treatMissingData: 'missing' }), [undefined, undefined, undefined])).toBe('INSUFFICIENT_DATA');
    expect(evaluateAlarm(rule({ treatMissingData: 'missing' }), [1, undefined, 1])).toBe('ALARM');
  });

  it('keeps the previous state with treatMissingData ignore and no datapoint', () => {
    expect(evaluateAlarm(rule({ treatMissingData: 'ignore' }), [undefined, undefined, undefined], 'ALARM')).toBe('ALARM');
    expect(evaluateAlarm(rule({ treatMissingData: 'ignore' }), [0, undefined, undefined], 'ALARM')).toBe('OK');
  });
});

describe('periodDatapoints', () => {
  const now = 1_000_000;
  it('sums samples into the last N periods ending now, oldest first, with undefined for empty periods', () => {
    const samples = [
      { value: 2, timestamp: now - 150_000 },
      { value: 1, timestamp: now - 10_000 },
      { value: 4, timestamp: now - 5_000 },
      { value: 100, timestamp: now - 500_000 },
    ];
    expect(periodDatapoints({ statistic: 'Sum', periodSeconds: 60, evaluationPeriods: 3 }, samples, now)).toEqual([2, undefined, 5]);
    expect(periodDatapoints({ statistic: 'Maximum', periodSeconds: 60, evaluationPeriods: 1 }, samples, now)).toEqual([4]);
  });
});

describe('alarmRules', () => {
  const rules = alarmRules(DEFAULT_CONFIG);

  it('defines every alarm once, with a description giving its severity and linking its runbook anchor', () => {
    expect(Object.keys(rules).sort()).toEqual([...ALARM_IDS].sort());
    const base = 'https://github.com/acme/livekit-webhooks/blob/main/docs/runbooks.md';
    for (const r of Object.values(rules)) {
      expect(r.anchor).toBe(`runbook-${r.id}`);
      expect(alarmDescription(r)).toMatch(new RegExp(`\\. Severity: ${r.severity}\\. Runbook: docs/runbooks\\.md#${r.anchor}$`));
      expect(alarmDescription(r, base)).toMatch(new RegExp(` Runbook: ${base.replace(/\./g, '\\.')}#${r.anchor}$`));
      expect(runbookLink(r, base)).toBe(`${base}#${r.anchor}`);
      expect(alarmDescription(r, base + '/' + 'x'.repeat(200)).length).toBeLessThanOrEqual(1024);
    }
  });

  it('pages only for loss or staleness now (missed events, DLQ, queue age, lag, ingest/API 5xx, publisher DLQ); everything else is a ticket', () => {
    const pages = Object.values(rules)
      .filter((r) => r.severity === 'page')
      .map((r) => r.id)
      .sort();
    expect(pages).toEqual([
      'api-5xx',
      'apply-lag',
      'dlq-not-empty',
      'ingest-5xx',
      'missed-events',
      'publisher-dlq-not-empty',
      'queue-oldest-message-age',
    ]);
    expect(rules['not-configured'].severity).toBe('ticket');
  });

  it('names alarms <prefix>-<id>', () => {
    expect(alarmName('LiveKitWebhooks', rules['missed-events'])).toBe('LiveKitWebhooks-missed-events');
  });

  it('does not page for a trickle with the missed-events default: one run of many misses, or fewer than 3 per run, stays OK', () => {
    const missed = rules['missed-events'];
    expect(missed).toMatchObject({ threshold: 3, evaluationPeriods: 3, datapointsToAlarm: 3 });
    expect(evaluateAlarm(missed, [0, 9, 0])).toBe('OK');
    expect(evaluateAlarm(missed, [2, 2, 2])).toBe('OK');
    expect(evaluateAlarm(missed, [3, 4, 3])).toBe('ALARM');
  });

  it('takes the missed-events threshold and periods from config, and the heartbeat period from the reconcile interval', () => {
    const custom = alarmRules(
      parseConfig({
        alarms: { missedEventsThreshold: 5, missedEventsEvaluationPeriods: 4, missedEventsDatapointsToAlarm: 2 },
        reconcile: { intervalMinutes: 5 },
      }),
    );
    expect(custom['missed-events']).toMatchObject({ threshold: 5, evaluationPeriods: 4, datapointsToAlarm: 2, periodSeconds: 300 });
    expect(custom['reconciler-heartbeat-missing']).toMatchObject({
      periodSeconds: 300,
      evaluationPeriods: 3,
      treatMissingData: 'breaching',
    });
  });

  it('treats missing data as breaching only for the heartbeat', () => {
    const breachingOnMissing = Object.values(rules)
      .filter((r) => r.treatMissingData === 'breaching')
      .map((r) => r.id);
    expect(breachingOnMissing).toEqual(['reconciler-heartbeat-missing']);
  });

  it('has a runbook section in docs/runbooks.md for every anchor the alarm descriptions link, and no section for an alarm that does not exist', () => {
    const runbooks = readFileSync(repoPath(RUNBOOK_DOCUMENT), 'utf8');
    for (const r of Object.values(rules)) expect(runbooks).toContain(`<a id="${r.anchor}"></a>\n## `);
    const anchors = [...runbooks.matchAll(/<a id="(runbook-[a-z0-9-]+)"><\/a>/g)].map((m) => m[1]).sort();
    expect(anchors).toEqual(
      Object.values(rules)
        .map((r) => r.anchor)
        .sort(),
    );
    // The README points there rather than carrying its own copies.
    expect(readFileSync(repoPath('README.md'), 'utf8')).not.toContain('<a id="runbook-');
  });

  it('refuses rules CloudWatch would refuse', () => {
    expect(() => validateRule(rule({ periodSeconds: 45 }))).toThrow(/period 45 s/);
    expect(() => validateRule(rule({ datapointsToAlarm: 4 }))).toThrow(/datapointsToAlarm/);
    expect(() => validateRule(rule({ periodSeconds: 3600, evaluationPeriods: 25, datapointsToAlarm: 1 }))).toThrow(/one day/);
  });
});

describe('the missed-events default, against the figures docs/runbooks.md states (scripts/measure-missed-alarm.ts)', () => {
  const defaults = {
    threshold: DEFAULT_CONFIG.alarms.missedEventsThreshold,
    evaluationPeriods: DEFAULT_CONFIG.alarms.missedEventsEvaluationPeriods,
    datapointsToAlarm: DEFAULT_CONFIG.alarms.missedEventsDatapointsToAlarm,
  };
  const figures = measure(defaults, 90, 5);

  it('pages at most about once in five months on a trickle of 10 missed events an hour, never at 2 an hour; the old default (>= 1, 1 of 1) thousands of times a month', () => {
    const [at2, at10] = figures.falsePages;
    expect(at2).toBe(0);
    expect(at10).toBeLessThanOrEqual(0.2);
    expect(measure({ threshold: 1, evaluationPeriods: 1, datapointsToAlarm: 1 }, 30, 1).falsePages[1]).toBeGreaterThan(1000);
  });

  it('pages an incident losing 5 events a minute within 3 runs (median) of the first reported miss, 10 a minute within 6 runs always', () => {
    const [, at5, at10] = figures.detection;
    expect(at5.median).toBeLessThanOrEqual(3);
    expect(at10.worst).toBeLessThanOrEqual(6);
  });
});
