import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { WebhookEvent } from '../../../lambda/process/webhook-event';
import { MISSED_EVENT_TYPES } from '../../../lambda/reconcile/repairs';
import { runDemo } from '../../../local/demo';
import { REPO_ROOT } from '../../support/paths';

/*
 * `npm run missed -- --local` after `npm run demo`'s scenario (real simulator, real delivery rules,
 * real pipeline, real reconciler): it lists exactly the events the simulator dropped on their way
 * to this pipeline (the simulator's own delivery log is the ground truth), each with its type,
 * room and entity, and nothing else. The CLI runs as a user runs it. Ground truth is the dropped
 * events of the types the reconciler can see in LiveKit's server API (MISSED_EVENT_TYPES): a
 * dropped track event, which a slow machine can add to the scenario, is never listed.
 */
const root = REPO_ROOT;
const run = promisify(execFile);

interface Listed {
  readonly eventType: string;
  readonly room?: string;
  readonly entityId: string;
  readonly foundAt: string;
  readonly missingForMs: number;
}

/** The entity a repair of this event names: what the reconciler can see in LiveKit's server API. */
function entityOf(event: WebhookEvent): string {
  const e = event as unknown as Record<string, any>;
  if (event.event.startsWith('track_')) return e.track.sid;
  if (event.event.startsWith('participant_')) return e.participant.sid;
  if (event.event.startsWith('room_')) return e.room.sid;
  if (event.event.startsWith('egress_')) return e.egressInfo.egressId;
  if (event.event.startsWith('ingress_')) return `${e.ingressInfo.ingressId}#${e.ingressInfo.state?.resourceId ?? ''}`;
  throw new Error(`no entity for ${event.event}`);
}

function roomOf(event: WebhookEvent): string | undefined {
  const e = event as unknown as Record<string, any>;
  return e.room?.name ?? e.egressInfo?.roomName ?? e.ingressInfo?.roomName;
}

const key = (x: { eventType: string; room?: string; entityId: string }) => `${x.eventType} ${x.room} ${x.entityId}`;

describe('npm run missed -- --local', () => {
  it('lists exactly the events the simulator dropped in the demo scenario, with type, room and entity', async () => {
    let dropped: Array<{ eventType: string; room?: string; entityId: string }> = [];
    let listed: Listed[] = [];
    let table = '';
    const report = await runDemo({
      timeScale: 0.1,
      rooms: 3,
      participantsPerRoom: 4,
      seed: 7,
      inspect: async ({ pipeline, sim, webhookUrl }) => {
        const events = new Map(sim.events().map((generated) => [generated.id, generated.event as unknown as WebhookEvent]));
        dropped = sim
          .deliveries()
          .filter((delivery) => delivery.url === webhookUrl && delivery.outcome === 'dropped')
          .map((delivery) => events.get(delivery.eventId)!)
          .filter((event) => (MISSED_EVENT_TYPES as readonly string[]).includes(event.event))
          .map((event) => ({ eventType: event.event, room: roomOf(event), entityId: entityOf(event) }));
        // The reconciler keeps running after its repairs are applied, as it does every minute when
        // deployed: what it repaired must still be listed afterwards.
        const later = await pipeline.reconcileNow();
        expect(later.missedTotal).toBe(0);
        const ready = pipeline.readyLine();
        const json = await run('npm', ['run', '--silent', 'missed', '--', '--local', ready, '--json'], { cwd: root });
        listed = json.stdout
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line));
        table = (await run('npm', ['run', '--silent', 'missed', '--', '--local', ready, '--since', '30m'], { cwd: root })).stdout;
      },
    });

    // The scenario did drop events (the outage, the lost egress_ended), and the reconciler repaired them.
    expect(dropped.length).toBeGreaterThan(0);
    expect(dropped.map((d) => d.eventType)).toContain('egress_ended');
    expect(report.ours.repaired).toBe(dropped.length);

    // Exactly those, each once, with type, room and entity; nothing else.
    expect(listed.map(key).sort()).toEqual(dropped.map(key).sort());
    for (const event of listed) {
      expect(event.room).toBeTruthy();
      expect(Number.isNaN(Date.parse(event.foundAt))).toBe(false);
      expect(event.missingForMs).toBeGreaterThanOrEqual(0);
    }

    // The table a person reads: a header line, then one line per event naming type, room and entity.
    const lines = table.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^npm run local .*: ${dropped.length} missed event\\(s\\) repaired in the last 30m$`));
    expect(lines[1]).toMatch(/^found \(UTC\)\s+type\s+room\s+entity\s+missing for$/);
    expect(lines).toHaveLength(2 + dropped.length);
    for (const d of dropped)
      expect(lines.some((line) => line.includes(d.eventType) && line.includes(d.room!) && line.includes(d.entityId))).toBe(true);
  }, 180_000);
});
