/**
 * `npx tsx scripts/measure-missed-alarm.ts [--days 30] [--seed 1]`
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
 * One run per minute (reconcile.intervalMinutes = 1, the default). Prints a table per setting.
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

/** How often the candidate would page, per 30 days, on the trickle alone (entries into ALARM). */
export function falsePagesPer30Days(candidate: Candidate, perHour: number, days: number, random: Random): number {
  const rule = alarmRules(parseConfig({ alarms: { missedEventsThreshold: candidate.threshold, missedEventsEvaluationPeriods: candidate.evaluationPeriods, missedEventsDatapointsToAlarm: candidate.datapointsToAlarm } }))['missed-events'];
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
export function detectionRuns(candidate: Candidate, perMinute: number, trickleRate: number, trials: number, random: Random): { median: number; worst: number } {
  const rule = alarmRules(parseConfig({ alarms: { missedEventsThreshold: candidate.threshold, missedEventsEvaluationPeriods: candidate.evaluationPeriods, missedEventsDatapointsToAlarm: candidate.datapointsToAlarm } }))['missed-events'];
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

function main(): void {
  const { values } = parseArgs({
    options: { days: { type: 'string', default: '30' }, seed: { type: 'string', default: '1' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('usage: npx tsx scripts/measure-missed-alarm.ts [--days 30] [--seed 1]\n');
    return;
  }
  const days = Number(values.days);
  const random = seededRandom(Number(values.seed));
  const header = ['setting', ...TRICKLE_PER_HOUR.map((r) => `false pages/30 d @ ${r}/h`), ...INCIDENT_PER_MINUTE.map((l) => `runs to page @ +${l}/min (median/worst)`)];
  process.stdout.write(`${header.join(' | ')}\n`);
  for (const candidate of CANDIDATES) {
    const falsePages = TRICKLE_PER_HOUR.map((rate) => falsePagesPer30Days(candidate, rate, days, random).toFixed(1));
    const detection = INCIDENT_PER_MINUTE.map((rate) => {
      const { median, worst } = detectionRuns(candidate, rate, 10, 2000, random);
      return `${median}/${worst}`;
    });
    process.stdout.write(`>= ${candidate.threshold}, ${candidate.datapointsToAlarm} of ${candidate.evaluationPeriods} | ${[...falsePages, ...detection].join(' | ')}\n`);
  }
}

if (require.main === module) main();
