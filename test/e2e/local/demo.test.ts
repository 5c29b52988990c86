import { formatDemoReport, runDemo } from '../../../local/demo';

/*
 * `npm run demo`'s scenario, smaller: the naive receiver ends wrong; this pipeline applies every
 * event LiveKit delivered, and after the reconciler's repairs its state equals LiveKit's, with one
 * missed event counted per event LiveKit dropped.
 */
describe('npm run demo (the scenario behind it)', () => {
  it('ends with the naive receiver wrong and this pipeline equal to LiveKit after reconciling', async () => {
    const report = await runDemo({ timeScale: 0.1, rooms: 3, participantsPerRoom: 4, seed: 7 });

    expect(report.ours.droppedByLiveKit).toBeGreaterThan(0); // the outage and the lost egress_ended
    expect(report.ours.applied).toBe(report.ours.delivered);
    expect(report.ours.diff.missing.length + report.ours.diff.extra.length).toBeGreaterThan(0);
    expect(report.ours.repaired).toBe(report.ours.droppedByLiveKit);
    expect(report.ours.missedByType).toMatchObject({ egress_ended: 1 });
    expect(report.ours.afterReconcile).toEqual({ missing: [], extra: [] });

    expect(report.naive.droppedByLiveKit).toBeGreaterThanOrEqual(report.ours.droppedByLiveKit);
    expect(report.naive.diff.missing.length + report.naive.diff.extra.length).toBeGreaterThan(0);
    expect(formatDemoReport(report)).toContain('this pipeline, after reconcile');
  }, 120_000);
});
