import { emfLines, EmfMetricsSink, MemoryMetricsSink, METRIC, METRIC_NAMESPACE } from '../../../lambda/shared/metrics';

describe('EMF metric lines', () => {
  it('writes one document per dimension set, in the namespace, with the values as fields, each under the pipeline', () => {
    const lines = emfLines(
      'lkw-prod',
      [
        { name: METRIC.missedEvents, value: 3 },
        { name: METRIC.missedEvents, value: 2, dimensions: { EventType: 'participant_left' } },
        { name: METRIC.repairsSent, value: 3 },
        { name: METRIC.runDuration, value: 812, unit: 'Milliseconds' },
      ],
      { runId: 'r-1' },
      1_700_000_000_000,
    ).map((line) => JSON.parse(line));

    expect(lines).toEqual([
      {
        runId: 'r-1',
        Pipeline: 'lkw-prod',
        MissedEvents: 3,
        RepairsSent: 3,
        ReconcileRunDuration: 812,
        _aws: {
          Timestamp: 1_700_000_000_000,
          CloudWatchMetrics: [
            {
              Namespace: METRIC_NAMESPACE,
              // The pipeline's total: `Pipeline` only, never a dimensionless metric every pipeline of the region would feed.
              Dimensions: [['Pipeline']],
              Metrics: [
                { Name: 'MissedEvents', Unit: 'Count' },
                { Name: 'RepairsSent', Unit: 'Count' },
                { Name: 'ReconcileRunDuration', Unit: 'Milliseconds' },
              ],
            },
          ],
        },
      },
      {
        runId: 'r-1',
        EventType: 'participant_left',
        Pipeline: 'lkw-prod',
        MissedEvents: 2,
        _aws: {
          Timestamp: 1_700_000_000_000,
          CloudWatchMetrics: [
            { Namespace: METRIC_NAMESPACE, Dimensions: [['Pipeline', 'EventType']], Metrics: [{ Name: 'MissedEvents', Unit: 'Count' }] },
          ],
        },
      },
    ]);
  });

  it('names the pipeline it was given, and a context field cannot rename it', () => {
    const [line] = emfLines('lkw-staging', [{ name: METRIC.heartbeat, value: 1 }], { Pipeline: 'lkw-prod' }).map((l) => JSON.parse(l));
    expect(line.Pipeline).toBe('lkw-staging');
  });

  it('EmfMetricsSink writes each document as one line, under its pipeline', () => {
    const written: string[] = [];
    new EmfMetricsSink('lkw-prod', (line) => written.push(line)).put([{ name: METRIC.heartbeat, value: 1 }]);
    expect(written).toHaveLength(1);
    const document = JSON.parse(written[0]);
    expect(document.ReconcileHeartbeat).toBe(1);
    expect(document.Pipeline).toBe('lkw-prod');
    expect(document._aws.CloudWatchMetrics[0].Dimensions).toEqual([['Pipeline']]);
  });

  it('MemoryMetricsSink sums a metric since a time, with or without dimensions', () => {
    let now = 1000;
    const sink = new MemoryMetricsSink(() => now);
    sink.put([
      { name: METRIC.missedEvents, value: 1, dimensions: { EventType: 'egress_ended' } },
      { name: METRIC.missedEvents, value: 1 },
    ]);
    now = 2000;
    sink.put([{ name: METRIC.missedEvents, value: 4 }]);
    expect(sink.sum(METRIC.missedEvents)).toBe(6);
    expect(sink.sum(METRIC.missedEvents, 0, {})).toBe(5);
    expect(sink.sum(METRIC.missedEvents, 1500, {})).toBe(4);
    expect(sink.sum(METRIC.missedEvents, 0, { EventType: 'egress_ended' })).toBe(1);
  });
});
