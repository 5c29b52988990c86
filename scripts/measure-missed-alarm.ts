/**
 * `npx tsx scripts/measure-missed-alarm.ts [--days 90] [--seeds 5]`
 *
 * The false-page and detection figures behind the missed-events alarm's defaults
 * (docs/runbooks.md#runbook-missed-events). It feeds per-run missed-event counts into the very rule
 * objects and CloudWatch evaluation the stack and `npm run local` use (lib/alarm-rules.ts), for
 * candidate threshold / M-of-N settings, under two kinds of traffic:
 * - the normal trickle: LiveKit drops a few events even when everything is healthy (its 30 s
 *   per-room queue, retries exhausted: `egress_ended` missing for < 1 % of egresses in a user's
 *   report). Drops come in clusters (one room's backed-up queue loses several events at once):
 *   cluster starts are Poisson, cluster sizes 1 + geometric (mean 1.5 events). Three rates, from a
 *   small deployment to a busy one: 2, 10 and 40 missed events per hour.
 * - an incident: on top of the trickle, L events per minute are lost (our ingest failing, a
 *   LiveKit region not sending) from minute 0; the detection time is the number of reconcile runs
 *   until the alarm is in ALARM (the reconciler reports a miss one grace period after it happens;
 *   add that to the figures).
 * One run per minute (reconcile.intervalMinutes = 1, the default). Each figure is the mean over
 * `--seeds` independent streams of `--days` simulated days (false pages), or 2000 trials per seed
 * (detection), every stream seeded on its own so a figure does not depend on the others.
 * Prints one table row per setting.
 */
import { parseArgs } from 'node:util';
import { alarmRules, evaluateAlarm } from '../lib/alarm-rules';
import { parseConfig } from '../lib/config';
import { seededRandom } from '../simulator/ids';

export interface Candidate {
  readonly threshold: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
}

export const CANDIDATES: readonly Candidate[] = [
  { threshold: 1, evaluationPeriods: 1, datapointsToAlarm: 1 },
  { threshold: 2, evaluationPeriods: 3, datapointsToAlarm: 2 },
  { threshold: 3, evaluationPeriods: 3, datapointsToAlarm: 2 },
  { threshold: 3, evaluationPeriods: 3, datapointsToAlarm: 3 },
  { threshold: 4, evaluationPeriods: 3, datapointsToAlarm: 2 },
  { threshold: 5, evaluationPeriods: 3, datapointsToAlarm: 2 },
  { threshold: 4, evaluationPeriods: 3, datapointsToAlarm: 3 },
];
export const TRICKLE_PER_HOUR = [2, 10, 40] as const;
export const INCIDENT_PER_MINUTE = [3, 5, 10] as const;

type Random = () => number;

function poisson(random: Random, mean: number): number {
  // Knuth: fine for the small means here.
  const limit = Math.exp(-mean);
  let k = 0;
  let p = random();
  while (p > limit) {
    k++;
    p *= random();
  }
  return k;
}

/** Missed events in one run of the normal trickle (clusters of mean size 1.5). */
function trickle(random: Random, perHour: number): number {
  const clusters = poisson(random, perHour / 60 / 1.5);
  let total = 0;
  for (let c = 0; c < clusters; c++) {
    let size = 1;
    while (random() < 1 / 3) size++; // geometric extra, mean 0.5
    total += size;
  }
  return total;
}

/** The missed-events alarm rule as the stack would build it with the candidate's settings. */
function missedEventsRule(candidate: Candidate): ReturnType<typeof alarmRules>['missed-events'] {
  const { threshold, evaluationPeriods, datapointsToAlarm } = candidate;
  return alarmRules(
    parseConfig({
      alarms: {
        missedEventsThreshold: threshold,
        missedEventsEvaluationPeriods: evaluationPeriods,
        missedEventsDatapointsToAlarm: datapointsToAlarm,
      },
    }),
  )['missed-events'];
}

/** How often the candidate would page, per 30 days, on the trickle alone (entries into ALARM). */
export function falsePagesPer30Days(candidate: Candidate, perHour: number, days: number, random: Random): number {
  const rule = missedEventsRule(candidate);
  const window: number[] = [];
  let state = 'OK';
  let pages = 0;
  for (let minute = 0; minute < days * 1440; minute++) {
    window.push(trickle(random, perHour));
    if (window.length > rule.evaluationPeriods) window.shift();
    const next = evaluateAlarm(rule, window, state as 'OK');
    if (next === 'ALARM' && state !== 'ALARM') pages++;
    state = next;
  }
  return (pages * 30) / days;
}

/** Runs from the first run that sees the incident's misses until ALARM: median and worst of `trials`. */
export function detectionRuns(
  candidate: Candidate,
  perMinute: number,
  trickleRate: number,
  trials: number,
  random: Random,
): { median: number; worst: number } {
  const rule = missedEventsRule(candidate);
  const results: number[] = [];
  for (let t = 0; t < trials; t++) {
    const window: number[] = [];
    let run = 0;
    for (;;) {
      run++;
      window.push(trickle(random, trickleRate) + poisson(random, perMinute));
      if (window.length > rule.evaluationPeriods) window.shift();
      if (evaluateAlarm(rule, window) === 'ALARM' || run >= 60) break;
    }
    results.push(run);
  }
  results.sort((a, b) => a - b);
  return { median: results[Math.floor(results.length / 2)], worst: results[results.length - 1] };
}

/** The figures of one setting: mean false pages per 30 days per trickle rate, and detection per incident rate. */
export function measure(
  candidate: Candidate,
  days: number,
  seeds: number,
): { falsePages: number[]; detection: Array<{ median: number; worst: number }> } {
  const seedOf = (...parts: number[]) => parts.reduce((a, b) => a * 1009 + b, 17);
  const id = candidate.threshold * 10_000 + candidate.evaluationPeriods * 100 + candidate.datapointsToAlarm;
  const falsePages = TRICKLE_PER_HOUR.map((rate) => {
    let total = 0;
    for (let seed = 1; seed <= seeds; seed++) total += falsePagesPer30Days(candidate, rate, days, seededRandom(seedOf(id, rate, seed)));
    return total / seeds;
  });
  const detection = INCIDENT_PER_MINUTE.map((rate) => {
    const runs = Array.from({ length: seeds }, (_, i) =>
      detectionRuns(candidate, rate, 10, 2000, seededRandom(seedOf(id, 1000 + rate, i + 1))),
    );
    const medians = runs.map((r) => r.median).sort((a, b) => a - b);
    return { median: medians[Math.floor(medians.length / 2)], worst: Math.max(...runs.map((r) => r.worst)) };
  });
  return { falsePages, detection };
}

function main(): void {
  const { values } = parseArgs({
    options: { days: { type: 'string', default: '90' }, seeds: { type: 'string', default: '5' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('usage: npx tsx scripts/measure-missed-alarm.ts [--days 90] [--seeds 5]\n');
    return;
  }
  const days = Number(values.days);
  const seeds = Number(values.seeds);
  const header = [
    'setting',
    ...TRICKLE_PER_HOUR.map((r) => `false pages/30 d @ ${r}/h`),
    ...INCIDENT_PER_MINUTE.map((l) => `runs to page @ +${l}/min (median/worst)`),
  ];
  process.stdout.write(`${header.join(' | ')}\n`);
  for (const candidate of CANDIDATES) {
    const { falsePages, detection } = measure(candidate, days, seeds);
    const cells = [...falsePages.map((n) => n.toFixed(2)), ...detection.map((d) => `${d.median}/${d.worst}`)];
    process.stdout.write(
      `>= ${candidate.threshold}, ${candidate.datapointsToAlarm} of ${candidate.evaluationPeriods} | ${cells.join(' | ')}\n`,
    );
  }
}

if (require.main === module) main();
