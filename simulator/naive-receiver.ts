/**
 * The receiver this project replaces (docs/livekit-delivery.md, report 1): it verifies the webhook, then does its
 * database work in-band and answers only when that work is done. On a share of requests the "store"
 * is slow; LiveKit gives up on the request, retries it, and meanwhile every later event of the same
 * room waits, ages past MaxAge and is dropped. Comparing `state()` with the simulator's ground truth
 * shows what such a receiver believes versus what is true.
 *
 * Naive on purpose, in the common ways: it applies every delivery it gets (duplicates and retries
 * included, even after LiveKit has stopped waiting), keys participants by identity, and lets a late
 * `participant_left` remove whoever now holds that identity.
 */
import * as http from 'node:http';
import type { Socket } from 'node:net';
import { EgressStatus, WebhookEvent } from '@livekit/protocol';
import { WebhookReceiver } from 'livekit-server-sdk';
import { RandomSource } from './ids';
import { listen } from './listen';
import { TimerSet } from './timing';

export interface NaiveReceiverProps {
  readonly apiKey: string;
  readonly apiSecret: string;
  /** Share of requests (0..1) whose store write is slow. */
  readonly slowShare?: number;
  /** How long a slow store write takes, in ms. */
  readonly slowMs?: number;
  /** Deterministic alternative to `slowShare`: decides per delivery whether the write is slow. */
  readonly isSlow?: (event: WebhookEvent, attempt: number) => boolean;
  /** Time every store write takes, in ms (default 0). */
  readonly storeMs?: number;
  readonly random?: RandomSource;
  readonly host?: string;
  readonly port?: number;
}

export interface NaiveParticipant {
  readonly sid: string;
  readonly identity: string;
}

export interface NaiveState {
  /** Room name → sid of rooms believed active. */
  readonly rooms: ReadonlyMap<string, string>;
  /** Room name → identity → participant believed present. */
  readonly participants: ReadonlyMap<string, ReadonlyMap<string, NaiveParticipant>>;
  /** Egress id → last status name seen. */
  readonly egress: ReadonlyMap<string, string>;
}

export interface AppliedEvent {
  readonly id: string;
  readonly type: string;
  readonly room?: string;
  readonly slow: boolean;
  /** How many times this event id had been received before (retries, duplicates). */
  readonly previousReceipts: number;
}

/** Which events are slow, each drawn once: `isSlow` for a `NaiveReceiver`, and what it drew so far. */
export interface SlowEvents {
  readonly isSlow: (event: WebhookEvent) => boolean;
  /** Event id → whether it was drawn slow. */
  readonly drawn: ReadonlyMap<string, boolean>;
}

/**
 * A `share` of events whose in-band work is slow on every attempt, not only the first: the slow
 * part is the event's own work (a locked row, a slow downstream call for that user), so a retry
 * of a slow event is slow again. Each event id is drawn from `random` once, when first received.
 */
export function slowEvents(share: number, random: RandomSource): SlowEvents {
  const drawn = new Map<string, boolean>();
  return {
    isSlow: (event) => {
      if (!drawn.has(event.id)) drawn.set(event.id, random() < share);
      return drawn.get(event.id)!;
    },
    drawn,
  };
}

export class NaiveReceiver {
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new TimerSet();
  private readonly receiver: WebhookReceiver;
  private readonly random: RandomSource;
  private readonly rooms = new Map<string, string>();
  private readonly participants = new Map<string, Map<string, NaiveParticipant>>();
  private readonly egressStatus = new Map<string, string>();
  private readonly receipts = new Map<string, number>();
  private readonly appliedLog: AppliedEvent[] = [];
  private rejectedCount = 0;
  private baseUrl?: string;

  constructor(private readonly props: NaiveReceiverProps) {
    if (props.slowShare !== undefined && !(props.slowShare >= 0 && props.slowShare <= 1))
      throw new RangeError('slowShare must be within 0..1');
    this.receiver = new WebhookReceiver(props.apiKey, props.apiSecret);
    this.random = props.random ?? Math.random;
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async start(): Promise<string> {
    const host = this.props.host ?? '127.0.0.1';
    const port = await listen(this.server, this.props.port ?? 0, host);
    this.baseUrl = `http://${host}:${port}/webhook`;
    return this.baseUrl;
  }

  get url(): string {
    if (!this.baseUrl) throw new Error('naive receiver is not started');
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    this.timers.cancelAll();
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  state(): NaiveState {
    return { rooms: this.rooms, participants: this.participants, egress: this.egressStatus };
  }

  /** Identities the receiver believes are in `room`, sorted. */
  presentIdentities(room: string): string[] {
    return [...(this.participants.get(room)?.keys() ?? [])].sort();
  }

  applied(): readonly AppliedEvent[] {
    return this.appliedLog;
  }

  /** Requests answered 401 (bad signature or body hash). */
  get rejected(): number {
    return this.rejectedCount;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let event: WebhookEvent;
    try {
      event = await this.receiver.receive(Buffer.concat(chunks).toString('utf8'), req.headers.authorization);
    } catch {
      this.rejectedCount += 1;
      res.writeHead(401).end();
      return;
    }
    const previousReceipts = this.receipts.get(event.id) ?? 0;
    this.receipts.set(event.id, previousReceipts + 1);
    const slow = this.props.isSlow ? this.props.isSlow(event, previousReceipts) : this.random() < (this.props.slowShare ?? 0);
    // The in-band "database write": LiveKit is kept waiting for it, and it completes even when
    // LiveKit has already timed out and moved on to a retry.
    await this.timers.sleep((this.props.storeMs ?? 0) + (slow ? (this.props.slowMs ?? 0) : 0));
    if (this.timers.isClosed) return;
    this.apply(event);
    this.appliedLog.push({ id: event.id, type: event.event, room: event.room?.name || undefined, slow, previousReceipts });
    if (!res.destroyed) res.writeHead(200).end();
  }

  private apply(event: WebhookEvent): void {
    const roomName = event.room?.name ?? '';
    switch (event.event) {
      case 'room_started':
        this.rooms.set(roomName, event.room!.sid);
        break;
      case 'room_finished':
        this.rooms.delete(roomName);
        this.participants.delete(roomName);
        break;
      case 'participant_joined': {
        const p = event.participant!;
        let present = this.participants.get(roomName);
        if (!present) this.participants.set(roomName, (present = new Map<string, NaiveParticipant>()));
        present.set(p.identity, { sid: p.sid, identity: p.identity });
        break;
      }
      case 'participant_left':
        this.participants.get(roomName)?.delete(event.participant!.identity);
        break;
      case 'egress_started':
      case 'egress_updated':
      case 'egress_ended':
        this.egressStatus.set(event.egressInfo!.egressId, EgressStatus[event.egressInfo!.status]);
        break;
      default:
        break;
    }
  }
}
