/**
 * Who is in which room, kept from the change feed: room name -> the participant sessions present.
 * Order-proof: EventBridge does not order deliveries, and a retried change can arrive after later
 * ones, so a session that ended, or a room instance that finished, is remembered and a late
 * `joined` for it is ignored. Repeats of one change are filtered before this (the handler's `ChangeDeduper`).
 */
import type { ChangeEvent, ParticipantState } from '../../consumer';

export interface Presence {
  readonly participantSid: string;
  readonly identity: string;
  readonly roomSid: string;
  /** From LiveKit's `joinedAtMs` when the join carried it. */
  readonly joinedAtMs?: number;
}

export class PresenceCache {
  private readonly byRoom = new Map<string, Map<string, Presence>>();
  /**
   * Sessions that ended and room instances that finished, so a late join does not bring them
   * back. Kept for the container's life here; a long-lived consumer bounds them (a TTL).
   */
  private readonly ended = new Set<string>();
  private readonly finishedRooms = new Set<string>();
  /** How many changes altered the cache (a repeat that got through would count twice). */
  updates = 0;

  /** Applies one change; returns whether the cache changed. */
  apply(event: ChangeEvent): boolean {
    const { detail } = event;
    if (detail.detailType === 'room.finished' && detail.entity.roomName !== undefined) {
      const name = detail.entity.roomName;
      this.finishedRooms.add(detail.entity.roomSid);
      // Only the instance that finished: a room of the same name may already be open again.
      const sessions = this.byRoom.get(name);
      let changed = false;
      for (const [sid, presence] of sessions ?? []) {
        if (presence.roomSid === detail.entity.roomSid) {
          sessions!.delete(sid);
          changed = true;
        }
      }
      if (sessions?.size === 0) this.byRoom.delete(name);
      return this.count(changed);
    }
    if (detail.entity.type !== 'participant') return false;
    const state = detail.new as ParticipantState;
    const { roomName, roomSid, participantSid } = detail.entity;
    if (state.status === 'ACTIVE') {
      if (this.ended.has(participantSid) || this.finishedRooms.has(roomSid) || this.byRoom.get(roomName)?.has(participantSid)) return false;
      const sessions = this.byRoom.get(roomName) ?? new Map<string, Presence>();
      const joinedAtMs = Number(state.info?.joinedAtMs);
      sessions.set(participantSid, {
        participantSid,
        identity: detail.entity.identity,
        roomSid,
        ...(Number.isFinite(joinedAtMs) && joinedAtMs > 0 ? { joinedAtMs } : {}),
      });
      this.byRoom.set(roomName, sessions);
      return this.count(true);
    }
    // LEFT or ABORTED (participant.left, .connection_aborted, .corrected): the session is over.
    this.ended.add(participantSid);
    const sessions = this.byRoom.get(roomName);
    const removed = sessions?.delete(participantSid) ?? false;
    if (sessions?.size === 0) this.byRoom.delete(roomName);
    return this.count(removed);
  }

  /** The sessions present in `roomName`, by identity then sid. */
  participants(roomName: string): Presence[] {
    return [...(this.byRoom.get(roomName)?.values() ?? [])].sort(
      (a, b) => a.identity.localeCompare(b.identity) || a.participantSid.localeCompare(b.participantSid),
    );
  }

  /** Room names with someone present. */
  rooms(): string[] {
    return [...this.byRoom.keys()].sort();
  }

  private count(changed: boolean): boolean {
    if (changed) this.updates++;
    return changed;
  }
}
