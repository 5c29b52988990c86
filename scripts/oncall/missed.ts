/**
 * `npm run missed -- [--since 1h] [--stack <name> [--region <r>] | --local <ready>] [--json]`
 *
 * The events LiveKit never delivered that the reconciler repaired, one line each: when the repair
 * was made (the event was declared missed), its type, room, entity, and how long it was missing
 * (from the first run that saw the difference to the repair; the event itself happened before that
 * first sighting). Read from the reconciler's repair records (`RECONCILE#PENDING` items with
 * `repairedAt`, lambda/reconcile/bookkeeping.ts), which are kept a day after the repair; the
 * dashboard's "Missed events (repaired)" Logs Insights widget lists the same from the reconciler's
 * log lines, for as long as the logs are kept.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { queryAll } from '../../lambda/process/queries';
import { keys } from '../../contracts/table-schema';
import { CommandSpec, OncallTarget, ParsedArgs, resolveTarget, runMain, UsageError } from './target';

export const USAGE = `usage: npm run missed -- [--since <30m|1h|1d>] [--stack <name> [--region <r>] | --local '<ready JSON>'|<file>] [--json]`;

/** How long a repair record outlives its repair (the reconciler's bookkeeping TTL, at least a day). */
export const REPAIR_RECORD_RETENTION_MS = 24 * 3600 * 1000;

export const COMMAND: CommandSpec = {
  usage: USAGE,
  description:
    'Lists each event LiveKit never delivered that the reconciler repaired in the window: time found, type, room, entity, and how long it was missing. ' +
    'From the repair records, kept a day after each repair; for older ones use the dashboard widget "Missed events (repaired)".',
  options: {
    since: { type: 'string', value: '<duration>', description: 'how far back: <n>m, <n>h or <n>d (default 1h)' },
    json: { type: 'boolean', description: 'one JSON record per line' },
  },
};

/** One repaired event, as listed. */
export interface MissedEvent {
  /** When the reconciler repaired it (ms): the time it was found missed. */
  readonly foundAt: number;
  readonly eventType: string;
  /** Room name, when known (from the record, else from the entity in state). */
  readonly room?: string;
  readonly roomSid?: string;
  /** Participant sid, room sid, egress id, or `<ingressId>#<sessionId>`. */
  readonly entityId: string;
  /** First run that saw the difference (ms). */
  readonly firstSeenAt: number;
  /** foundAt - firstSeenAt: how long state was known to be wrong before the repair (at least). */
  readonly missingForMs: number;
  readonly repairId: string;
}

/** `30m`, `1h`, `2d` → milliseconds. */
export function parseSince(value: string | undefined): number {
  if (value === undefined) return 3600 * 1000;
  const match = /^(\d+)([mhd])$/.exec(value.trim());
  if (!match || Number(match[1]) === 0) throw new UsageError(`--since must be a duration like 30m, 1h or 2d, got ${value}`);
  return Number(match[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'm' | 'h' | 'd'];
}

/** The state item whose `roomName` names the room of a repaired entity. */
function entityKey(eventType: string, entityId: string, roomSid?: string): { pk: string; sk: string } | undefined {
  if (eventType.startsWith('room_')) return keys.room(entityId);
  if (eventType.startsWith('participant_')) return keys.participant(entityId);
  if (eventType.startsWith('egress_')) return keys.egress(entityId);
  if (eventType.startsWith('ingress_')) {
    const [ingressId, sessionId] = entityId.split('#');
    return sessionId ? keys.ingress(ingressId, sessionId) : undefined;
  }
  return roomSid ? keys.room(roomSid) : undefined;
}

/** Repaired events with `repairedAt` at or after `sinceMs`, newest first. */
export async function listMissed(target: OncallTarget, sinceMs: number): Promise<MissedEvent[]> {
  const records = await queryAll(target, {
    TableName: target.tableName,
    KeyConditionExpression: 'pk = :pk',
    FilterExpression: 'repairedAt >= :since',
    ExpressionAttributeValues: { ':pk': keys.reconcilePendingPk, ':since': sinceMs },
  });

  const roomNames = new Map<string, Promise<string | undefined>>();
  const roomOf = (eventType: string, entityId: string, roomSid?: string): Promise<string | undefined> => {
    const key = entityKey(eventType, entityId, roomSid);
    if (!key) return Promise.resolve(undefined);
    const id = `${key.pk}|${key.sk}`;
    if (!roomNames.has(id)) {
      roomNames.set(
        id,
        target.ddb
          .send(new GetCommand({ TableName: target.tableName, Key: key, ProjectionExpression: 'roomName' }))
          .then((out) => out.Item?.roomName as string | undefined),
      );
    }
    return roomNames.get(id)!;
  };

  const events = await Promise.all(
    records.map(async (record): Promise<MissedEvent> => {
      const eventType = String(record.eventType);
      const entityId = String(record.entityId);
      const roomSid = typeof record.roomSid === 'string' ? record.roomSid : undefined;
      const foundAt = Number(record.repairedAt);
      const firstSeenAt = Number(record.firstSeenAt ?? foundAt);
      const room =
        typeof record.roomName === 'string' && record.roomName !== '' ? record.roomName : await roomOf(eventType, entityId, roomSid);
      return {
        foundAt,
        eventType,
        ...(room ? { room } : {}),
        ...(roomSid ? { roomSid } : {}),
        entityId,
        firstSeenAt,
        missingForMs: Math.max(0, foundAt - firstSeenAt),
        repairId: String(record.sk),
      };
    }),
  );
  return events.sort((a, b) => b.foundAt - a.foundAt || a.repairId.localeCompare(b.repairId));
}

/** `1m 05s`, `2h 03m`, `850 ms`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, '0')}m`;
}

/** The table on-call reads: one line per event, aligned. */
export function formatMissed(events: readonly MissedEvent[]): string {
  const rows = [
    ['found (UTC)', 'type', 'room', 'entity', 'missing for'],
    ...events.map((e) => [
      new Date(e.foundAt).toISOString().replace('T', ' ').slice(0, 19),
      e.eventType,
      e.room ?? '?',
      e.entityId,
      `>= ${formatDuration(e.missingForMs)}`,
    ]),
  ];
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return (
    rows
      .map((row) =>
        row
          .map((cell, column) => cell.padEnd(widths[column]))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export async function main(parsed: ParsedArgs): Promise<number> {
  const sinceMs = parseSince(parsed.flags.since as string | undefined);
  if (sinceMs > REPAIR_RECORD_RETENTION_MS) {
    process.stderr.write(
      `note: repair records are kept a day after the repair; for older missed events run the dashboard's "Missed events (repaired)" query over ${parsed.flags.since}.\n`,
    );
  }
  const target = await resolveTarget(parsed);
  try {
    const events = await listMissed(target, Date.now() - sinceMs);
    if (parsed.flags.json === true) {
      for (const event of events)
        process.stdout.write(
          `${JSON.stringify({ ...event, foundAt: new Date(event.foundAt).toISOString(), firstSeenAt: new Date(event.firstSeenAt).toISOString() })}\n`,
        );
      return 0;
    }
    process.stdout.write(`${target.description}: ${events.length} missed event(s) repaired in the last ${parsed.flags.since ?? '1h'}\n`);
    if (events.length > 0) process.stdout.write(formatMissed(events));
    return 0;
  } finally {
    target.close();
  }
}

if (require.main === module) runMain(main, COMMAND);
