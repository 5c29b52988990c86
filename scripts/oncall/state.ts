/**
 * `npm run state -- [--stack <name> | --local <ready>] [--json] <rooms | participants <roomSid|roomName> | egresses>`
 *
 * What the pipeline believes now, read with the same one-Query-per-question helpers apps use
 * (lambda/process/queries.ts): active rooms, the participants present in a room, open egresses.
 * Compare with LiveKit (`lk room list`, `lk room participants list <room>`, `lk egress list`) to
 * see what the reconciler will repair.
 */
import { EntityItem, entityInfo } from '../../lambda/process/state-model';
import { listActiveRooms, listOpenEgresses, listRoomParticipants } from '../../lambda/process/queries';
import { CommandSpec, OncallTarget, ParsedArgs, resolveTarget, runMain, UsageError } from './target';

export const USAGE = `usage: npm run state -- [--stack <name> [--region <r>] | --local '<ready JSON>'|<file>] [--json] rooms | participants <roomSid|roomName> | egresses`;

export const COMMAND: CommandSpec = {
  usage: USAGE,
  description:
    'What the pipeline believes now: active rooms, the participants present in a room (by sid or name), or open egresses. ' +
    'Compare with LiveKit (lk room list, lk room participants list <room>, lk egress list).',
  options: { json: { type: 'boolean', description: 'one JSON item per line instead of a table' } },
  positionals: true,
};

export type StateQuery =
  { readonly kind: 'rooms' } | { readonly kind: 'participants'; readonly room: string } | { readonly kind: 'egresses' };

export function parseQuery(rest: readonly string[]): StateQuery {
  const [command, argument, extra] = rest;
  if (command === 'rooms' && argument === undefined) return { kind: 'rooms' };
  if (command === 'egresses' && argument === undefined) return { kind: 'egresses' };
  if (command === 'participants' && argument !== undefined && extra === undefined) return { kind: 'participants', room: argument };
  throw new UsageError(
    command === 'participants' ? 'participants needs one room sid (RM_...) or room name' : `unknown command ${command ?? '(none)'}`,
  );
}

/** Room sids start with RM_; anything else is a room name, resolved to its live instance(s). */
const queryTarget = (target: OncallTarget) => ({ ddb: target.ddb, tableName: target.tableName });

export async function queryState(target: OncallTarget, query: StateQuery): Promise<EntityItem[]> {
  const q = queryTarget(target);
  switch (query.kind) {
    case 'rooms':
      return listActiveRooms(q);
    case 'egresses':
      return listOpenEgresses(q);
    case 'participants': {
      const sids = query.room.startsWith('RM_') ? [query.room] : (await listActiveRooms(q, query.room)).map((room) => room.entityId);
      return (await Promise.all(sids.map((sid) => listRoomParticipants(q, sid)))).flat();
    }
  }
}

/** One line per entity: what on-call reads first. */
export function summarize(item: EntityItem): Record<string, unknown> {
  const info = entityInfo(item);
  const pick = (...names: string[]) => Object.fromEntries(names.filter((n) => info[n] !== undefined).map((n) => [n, info[n]]));
  return {
    id: item.entityId,
    status: item.status,
    ...pick('name', 'roomName', 'identity', 'roomSid'),
    lastEvent: item.lastEventType,
    lastEventAt: item.lastEventCreatedAt ? new Date(item.lastEventCreatedAt * 1000).toISOString() : undefined,
  };
}

export async function main(parsed: ParsedArgs): Promise<number> {
  const query = parseQuery(parsed.rest);
  const target = await resolveTarget(parsed);
  try {
    const items = await queryState(target, query);
    if (parsed.flags.json === true) {
      for (const item of items) process.stdout.write(`${JSON.stringify(item)}\n`);
    } else {
      process.stdout.write(`${target.description}: ${items.length} ${query.kind}\n`);
      if (items.length > 0) console.table(items.map(summarize));
      // A name is resolved through the room's own item (room_started): without it, say so, or
      // "0 participants" would read as an empty room (the missed-events runbook compares this
      // with LiveKit's list).
      else if (
        query.kind === 'participants' &&
        !query.room.startsWith('RM_') &&
        (await listActiveRooms(queryTarget(target), query.room)).length === 0
      )
        process.stdout.write(
          `no active room named ${JSON.stringify(query.room)} in the state (its room_started may be missing or filtered out): ask by room sid (RM_...) to list its participants\n`,
        );
    }
    return 0;
  } finally {
    target.close();
  }
}

if (require.main === module) runMain(main, COMMAND);
