/**
 * The in-memory state of one LiveKit deployment (rooms, participant sessions, tracks, egress,
 * ingress) and the scenario operations that change it. Every operation changes the state
 * synchronously and hands the webhook events LiveKit would emit, in LiveKit's order, to `notify`;
 * the sender decides what the receiver actually gets. The state is the ground truth a reconciler
 * is checked against, and what the Twirp API serves.
 */
import { randomUUID } from 'node:crypto';
import {
  Codec,
  DisconnectReason,
  EgressInfo,
  EgressSourceType,
  EgressStatus,
  FileInfo,
  IngressInfo,
  IngressState,
  IngressState_Status,
  Job,
  JobState,
  JobStatus,
  JobType,
  ParticipantEgressRequest,
  ParticipantInfo,
  ParticipantInfo_Kind,
  ParticipantInfo_State,
  ParticipantPermission,
  Room,
  RoomCompositeEgressRequest,
  TimedVersion,
  TrackInfo,
  TrackSource,
  TrackEgressRequest,
  TrackType,
  WebhookEvent,
} from '@livekit/protocol';
import { EGRESS_LIVE_STATUSES } from '../lambda/reconcile/egress-status';
import { newGuid, RandomSource } from './ids';
import { nowNanos } from './timing';

export type ParticipantKindName = keyof typeof ParticipantInfo_Kind;
export type TrackSourceName = 'CAMERA' | 'MICROPHONE' | 'SCREEN_SHARE' | 'SCREEN_SHARE_AUDIO';
export type DisconnectReasonName = keyof typeof DisconnectReason;
/** Terminal egress status used when a room ends under an active egress (see `LiveKitModelOptions`). */
export type EgressEndStatusName = 'EGRESS_COMPLETE' | 'EGRESS_ABORTED';

export class RoomNotFoundError extends Error {
  constructor(readonly room: string) {
    super(`requested room does not exist: ${room}`);
    this.name = 'RoomNotFoundError';
  }
}

export class ParticipantNotFoundError extends Error {
  constructor(
    readonly room: string,
    readonly participant: string,
  ) {
    super(`participant does not exist: ${participant} in ${room}`);
    this.name = 'ParticipantNotFoundError';
  }
}

export class TrackNotFoundError extends Error {
  constructor(readonly trackSid: string) {
    super(`track is not found: ${trackSid}`);
    this.name = 'TrackNotFoundError';
  }
}

export class EgressNotFoundError extends Error {
  constructor(readonly egressId: string) {
    super(`egress does not exist: ${egressId}`);
    this.name = 'EgressNotFoundError';
  }
}

export class EgressNotActiveError extends Error {
  constructor(
    readonly egressId: string,
    readonly status: EgressStatus,
  ) {
    super(`egress with status ${EgressStatus[status]} cannot be stopped`);
    this.name = 'EgressNotActiveError';
  }
}

export class IngressNotFoundError extends Error {
  constructor(readonly ingressId: string) {
    super(`ingress does not exist: ${ingressId}`);
    this.name = 'IngressNotFoundError';
  }
}

export interface LiveKitModelOptions {
  /** Receives every webhook event, in emission order. */
  readonly notify: (event: WebhookEvent) => void;
  readonly random?: RandomSource;
  /**
   * What an ACTIVE room-composite egress ends with when its room is deleted. Default
   * `EGRESS_COMPLETE`, what LiveKit does (livekit/egress `pkg/pipeline/controller.go`: the room
   * ending closes the source, `SendEOS(EndReasonSrcClosed)` moves ACTIVE to ENDING, then the
   * pipeline finishes COMPLETE). `EGRESS_ABORTED` is a deliberate deviation, to test a receiver
   * against both. A STARTING egress ends ABORTED either way (`SendEOS`: STARTING → `SetAborted`).
   */
  readonly egressStatusOnRoomEnd?: EgressEndStatusName;
  /**
   * Emit `agent_job_started` / `agent_job_ended` around each AGENT participant's session
   * (livekit/protocol `webhook/consts.go`, `WebhookEvent.job`). Open-source livekit-server never
   * sends them (livekit/livekit has no `EventAgentJob*` sender); LiveKit Cloud may. Default off.
   */
  readonly agentJobEvents?: boolean;
  /** Close a room this long after its last participant left (LiveKit's departure timeout); unset = never. */
  readonly closeEmptyRoomsAfterMs?: number;
  /** Scheduler for the empty-room timer, so the owner can cancel it on stop. */
  readonly schedule?: (ms: number, fn: () => void) => () => void;
  /**
   * What the server API's `ListParticipants` answers for a room that does not exist (any more).
   * `empty` (default): what every self-hosted server answers by default, single- or multi-node:
   * livekit/livekit `pkg/service/roomservice.go` `ListParticipants` reads the store unless
   * `api.enable_psrpc_for_get_list_participants` is set (`pkg/config/config.go`, off by default),
   * and both `LocalStore.ListParticipants` (`pkg/service/localstore.go`) and
   * `RedisStore.ListParticipants` (`pkg/service/redisstore.go`, `HVals` of a missing key) answer an
   * empty list. `not_found`: with that option set, the call goes over psrpc to the room's
   * `RoomManager.ListParticipants` (`pkg/service/roommanager.go`), which answers `ErrRoomNotFound`
   * (psrpc NotFound, Twirp `not_found`, HTTP 404) for a room it no longer has; LiveKit Cloud
   * answers `not_found` too.
   */
  readonly participantsOfUnknownRoom?: 'not_found' | 'empty';
  /**
   * Items per page of `ListEgress` / `ListIngress` (their `pageToken` / `nextPageToken`, livekit/protocol
   * `livekit_egress.proto`, `livekit_ingress.proto` `TokenPagination`). Unset: one page with everything.
   */
  readonly apiPageSize?: number;
}

/** One page of a paged listing: the items, and the token of the next page ('' on the last). */
export interface Page<T> {
  readonly items: T[];
  readonly nextPageToken: string;
}

export interface CreateRoomOptions {
  readonly metadata?: string;
  readonly emptyTimeout?: number;
  readonly departureTimeout?: number;
  /**
   * The room's auto egress (`CreateRoomRequest.egress`: `participant` and/or `tracks`) fails to
   * launch (no egress worker answers). LiveKit then sends `egress_ended` with status
   * EGRESS_FAILED, the launch error, and NO `egressId` (livekit/livekit `pkg/rtc/egress.go`
   * `StartParticipantEgress` / `StartTrackEgress`; launched from `pkg/rtc/room.go`
   * `onTrackPublished`: participant egress on a participant's first published track, track egress
   * on each track of a non-EGRESS participant). A successful auto egress is not modelled.
   */
  readonly failingAutoEgress?: FailingAutoEgress;
}

export interface FailingAutoEgress {
  /** `AutoParticipantEgress` is configured. */
  readonly participant?: boolean;
  /** `AutoTrackEgress` is configured. */
  readonly track?: boolean;
  /** The launch error; default psrpc's answer when no egress worker takes the request. */
  readonly error?: string;
}

export interface JoinOptions {
  readonly name?: string;
  readonly kind?: ParticipantKindName;
  readonly metadata?: string;
}

export interface PublishTrackOptions {
  readonly source?: TrackSourceName;
  readonly name?: string;
  readonly muted?: boolean;
}

export interface RoomCompositeEgressOptions {
  readonly layout?: string;
  /**
   * Stay EGRESS_STARTING (only `egress_started`) until `activateEgress`: a room-composite egress
   * waits for its web page's start signal before going ACTIVE (livekit/egress
   * `pkg/pipeline/controller.go`, "waiting for start signal").
   */
  readonly awaitStartSignal?: boolean;
  /** The request as a client sent it (Twirp path); the scenario path builds one from `layout`. */
  readonly request?: RoomCompositeEgressRequest;
}

export interface StartIngressOptions {
  readonly identity?: string;
  readonly name?: string;
}

interface TrackState {
  readonly info: TrackInfo;
}

interface ParticipantState {
  readonly sid: string;
  readonly identity: string;
  readonly name: string;
  readonly kind: ParticipantInfo_Kind;
  readonly metadata: string;
  readonly joinedAtMs: number;
  state: ParticipantInfo_State;
  version: number;
  readonly tracks: Map<string, TrackState>;
  /** The agent job this AGENT participant runs, when `agentJobEvents` is on. */
  job?: Job;
}

interface RoomState {
  readonly sid: string;
  readonly name: string;
  readonly creationTimeMs: number;
  readonly metadata: string;
  readonly emptyTimeout: number;
  readonly departureTimeout: number;
  /** Keyed by identity: LiveKit allows one session per identity and room. */
  readonly participants: Map<string, ParticipantState>;
  readonly failingAutoEgress?: FailingAutoEgress;
  /** Identities that have published in this room (`Room.hasPublished`: participant egress launches once). */
  readonly hasPublished: Set<string>;
  cancelCloseTimer?: () => void;
}

export interface EndedRoom {
  readonly sid: string;
  readonly name: string;
  readonly creationTimeMs: number;
  readonly endedAtMs: number;
}

const ENABLED_CODECS = ['audio/opus', 'audio/red', 'video/VP8', 'video/H264', 'video/VP9', 'video/AV1'];

const EGRESS_ACTIVE_STATES = EGRESS_LIVE_STATUSES;

/** livekit/protocol `livekit/livekit_egress.go` `EndReason*` constants. */
const END_REASON = { api: 'StopEgress API', sourceClosed: 'Source closed', failure: 'Failure' } as const;
/**
 * livekit/protocol `livekit/livekit_egress.go` `MsgStartNotReceived`. A STARTING room-composite
 * egress is waiting for its start signal when it is stopped: `SendEOS` sets `MsgStoppedBeforeStarted`
 * and stops the pipeline, whose stop hook breaks `c.stopped`, and the start wait in `Run` then sets
 * `SetAborted(MsgStartNotReceived)` last (livekit/egress `pkg/pipeline/controller.go`).
 */
const MSG_START_NOT_RECEIVED = 'Start signal not received';
/** psrpc's `ErrNoResponse` text: no egress worker answered the launch request. */
const AUTO_EGRESS_LAUNCH_ERROR = 'no response from servers';

/** livekit/protocol `EgressInfo.SetEndReason`. */
function endReasonDetails(reason: string): string {
  return `End reason: ${reason}`;
}

export class LiveKitModel {
  private readonly rooms = new Map<string, RoomState>();
  private readonly endedRoomLog: EndedRoom[] = [];
  private readonly egress = new Map<string, EgressInfo>();
  private readonly ingress = new Map<string, IngressInfo>();
  private readonly random: RandomSource;

  constructor(private readonly options: LiveKitModelOptions) {
    this.random = options.random ?? Math.random;
    if (options.apiPageSize !== undefined && !(Number.isInteger(options.apiPageSize) && options.apiPageSize > 0)) {
      throw new RangeError(`apiPageSize must be a positive integer, got ${options.apiPageSize}`);
    }
  }

  // ---- scenario operations -------------------------------------------------------------------

  /** Creates the room (room_started) unless it exists; LiveKit's CreateRoom is idempotent too. */
  createRoom(name: string, opts: CreateRoomOptions = {}): Room {
    if (!name) throw new RangeError('room name is required');
    const existing = this.rooms.get(name);
    if (existing) return this.roomInfo(existing);
    const room: RoomState = {
      sid: newGuid('room', this.random),
      name,
      creationTimeMs: Date.now(),
      metadata: opts.metadata ?? '',
      emptyTimeout: opts.emptyTimeout ?? 300,
      departureTimeout: opts.departureTimeout ?? 20,
      participants: new Map(),
      hasPublished: new Set(),
      ...(opts.failingAutoEgress ? { failingAutoEgress: opts.failingAutoEgress } : {}),
    };
    this.rooms.set(name, room);
    this.emit('room_started', { room: this.roomInfo(room) });
    return this.roomInfo(room);
  }

  /**
   * A participant connects and becomes ACTIVE: participant_joined with a new session sid. Joining
   * creates the room like a real connection does; an identity already present is replaced
   * (participant_left with DUPLICATE_IDENTITY first), as LiveKit does.
   */
  join(roomName: string, identity: string, opts: JoinOptions = {}): ParticipantInfo {
    const room = this.ensureRoom(roomName);
    const connecting = room.participants.get(identity);
    // A session still JOINING (see `connect`) becomes ACTIVE with its own sid; any other is replaced.
    const participant = connecting && connecting.state === ParticipantInfo_State.JOINING ? connecting : this.newParticipant(identity, opts);
    if (participant !== connecting) this.replaceDuplicate(room, identity);
    participant.state = ParticipantInfo_State.ACTIVE;
    participant.version += 1;
    room.participants.set(identity, participant);
    room.cancelCloseTimer?.();
    room.cancelCloseTimer = undefined;
    const info = this.participantInfo(participant);
    if (participant.kind === ParticipantInfo_Kind.AGENT && this.options.agentJobEvents && !participant.job)
      this.startAgentJob(room, participant);
    this.emit('participant_joined', { room: this.roomInfo(room), participant: info });
    return info;
  }

  /**
   * A participant has connected its signal channel but is not ACTIVE yet (ICE still negotiating):
   * LiveKit lists it (`ListParticipants` returns every participant of the room, livekit/livekit
   * `pkg/service/roommanager.go`) in state JOINING, counts it in `numParticipants`, and sends no
   * webhook: `participant_joined` fires when it becomes ACTIVE (`pkg/telemetry/events.go`,
   * `ParticipantActive`). Finish with `join` (same sid) or `leave` (participant_connection_aborted).
   */
  connect(roomName: string, identity: string, opts: JoinOptions = {}): ParticipantInfo {
    const room = this.ensureRoom(roomName);
    this.replaceDuplicate(room, identity);
    const participant = this.newParticipant(identity, opts);
    room.participants.set(identity, participant);
    room.cancelCloseTimer?.();
    room.cancelCloseTimer = undefined;
    return this.participantInfo(participant);
  }

  /** The participant disconnects: track_unpublished for each track, then participant_left. */
  leave(roomName: string, identityOrSid: string, reason: DisconnectReasonName = 'CLIENT_INITIATED'): ParticipantInfo {
    const room = this.requireRoom(roomName);
    const participant = this.findParticipant(room, identityOrSid);
    const info = this.disconnect(room, participant, DisconnectReason[reason]);
    this.scheduleCloseIfEmpty(room);
    return info;
  }

  /**
   * A connection that never became ACTIVE (ICE failed, client gave up): the session existed only in
   * JOINING/JOINED, so LiveKit sends participant_connection_aborted and never participant_joined.
   */
  abortConnection(roomName: string, identity: string, opts: JoinOptions = {}): ParticipantInfo {
    const room = this.ensureRoom(roomName);
    const participant = this.newParticipant(identity, opts);
    participant.state = ParticipantInfo_State.DISCONNECTED;
    participant.version += 1;
    const info = this.participantInfo(participant);
    this.emit('participant_connection_aborted', { room: this.roomInfo(room), participant: info });
    this.scheduleCloseIfEmpty(room);
    return info;
  }

  publishTrack(roomName: string, identity: string, opts: PublishTrackOptions = {}): TrackInfo {
    const room = this.requireRoom(roomName);
    const participant = this.findParticipant(room, identity);
    const source = TrackSource[opts.source ?? 'MICROPHONE'];
    const isAudio = source === TrackSource.MICROPHONE || source === TrackSource.SCREEN_SHARE_AUDIO;
    const mimeType = isAudio ? 'audio/red' : 'video/VP8';
    const mid = String(participant.tracks.size);
    const track = new TrackInfo({
      sid: newGuid('track', this.random),
      type: isAudio ? TrackType.AUDIO : TrackType.VIDEO,
      name: opts.name ?? '',
      muted: opts.muted ?? false,
      source,
      mimeType,
      mid,
      stream: source === TrackSource.SCREEN_SHARE || source === TrackSource.SCREEN_SHARE_AUDIO ? 'screen' : 'camera',
      codecs: [{ mimeType, mid, cid: randomUUID() }],
      version: new TimedVersion({ unixMicro: BigInt(Date.now()) * 1000n }),
      ...(isAudio ? {} : { width: 1280, height: 720, simulcast: true }),
    });
    participant.tracks.set(track.sid, { info: track });
    participant.version += 1;
    this.emit('track_published', { room: this.reducedRoom(room), participant: this.reducedParticipant(participant), track: track.clone() });
    this.launchAutoEgress(room, participant, track);
    return track.clone();
  }

  unpublishTrack(roomName: string, identity: string, trackSid: string): TrackInfo {
    const room = this.requireRoom(roomName);
    const participant = this.findParticipant(room, identity);
    const track = participant.tracks.get(trackSid);
    if (!track) throw new TrackNotFoundError(trackSid);
    participant.tracks.delete(trackSid);
    participant.version += 1;
    this.emit('track_unpublished', {
      room: this.reducedRoom(room),
      participant: this.reducedParticipant(participant),
      track: track.info.clone(),
    });
    return track.info.clone();
  }

  /**
   * Starts a room-composite egress: egress_started (EGRESS_STARTING) then egress_updated
   * (EGRESS_ACTIVE), both in the egress's own queue. Returns the STARTING snapshot, as the API does.
   */
  startRoomCompositeEgress(roomName: string, opts: RoomCompositeEgressOptions = {}): EgressInfo {
    const room = this.requireRoom(roomName);
    const request = opts.request?.clone() ?? new RoomCompositeEgressRequest({ roomName, layout: opts.layout ?? 'speaker' });
    const info = new EgressInfo({
      egressId: newGuid('egress', this.random),
      roomId: room.sid,
      roomName,
      sourceType: EgressSourceType.WEB,
      status: EgressStatus.EGRESS_STARTING,
      updatedAt: nowNanos(),
      request: { case: 'roomComposite', value: request },
    });
    this.egress.set(info.egressId, info);
    const starting = info.clone();
    this.emitEgress('egress_started', info);
    if (!opts.awaitStartSignal) this.activate(info);
    return starting;
  }

  /** A STARTING egress gets its start signal: EGRESS_ACTIVE (egress_updated). */
  activateEgress(egressId: string): EgressInfo {
    const info = this.requireEgress(egressId);
    if (info.status !== EgressStatus.EGRESS_STARTING) throw new EgressNotActiveError(egressId, info.status);
    this.activate(info);
    return info.clone();
  }

  /**
   * StopEgress, as livekit/egress `pkg/pipeline/controller.go` `SendEOS(EndReasonAPI)` handles it:
   * ACTIVE → egress_updated (ENDING, details "End reason: StopEgress API") then egress_ended
   * (COMPLETE); STARTING → egress_ended ABORTED. Returns the ENDING (or ABORTED) snapshot.
   */
  stopEgress(egressId: string): EgressInfo {
    const info = this.requireEgress(egressId);
    if (!EGRESS_ACTIVE_STATES.has(info.status) || info.status === EgressStatus.EGRESS_ENDING) {
      throw new EgressNotActiveError(egressId, info.status);
    }
    return this.endEgress(info, END_REASON.api, EgressStatus.EGRESS_COMPLETE);
  }

  /**
   * The egress fails on its own: egress_ended with EGRESS_FAILED, the error, and details
   * "End reason: Failure" unless a reason was set before (livekit/protocol `livekit/livekit_egress.go` `SetFailed`).
   */
  failEgress(egressId: string, error = 'pipeline failure'): EgressInfo {
    const info = this.requireEgress(egressId);
    if (!EGRESS_ACTIVE_STATES.has(info.status)) throw new EgressNotActiveError(egressId, info.status);
    info.error = error;
    if (!info.details) info.details = endReasonDetails(END_REASON.failure);
    this.finishEgress(info, EgressStatus.EGRESS_FAILED);
    return info.clone();
  }

  /**
   * Deletes the room (DeleteRoom, or the departure timeout): every participant leaves with
   * ROOM_DELETED, room_finished, then each live egress of the room ends in its own queue, so a
   * receiver may see egress_ended before or after room_finished. The room going away closes the
   * egress's source: livekit/egress `pkg/pipeline/controller.go` `SendEOS(EndReasonSrcClosed)` sets
   * details "End reason: Source closed", then a STARTING egress is ABORTED (`SetAborted`, error
   * "Start signal not received", code 412: egress_ended only), an ACTIVE one goes
   * ENDING (egress_updated) then COMPLETE, an ENDING one COMPLETE.
   */
  endRoom(roomName: string): Room {
    const room = this.requireRoom(roomName);
    room.cancelCloseTimer?.();
    for (const participant of [...room.participants.values()]) this.disconnect(room, participant, DisconnectReason.ROOM_DELETED);
    const finished = this.roomInfo(room);
    this.rooms.delete(roomName);
    this.endedRoomLog.push({ sid: room.sid, name: room.name, creationTimeMs: room.creationTimeMs, endedAtMs: Date.now() });
    this.emit('room_finished', { room: finished });
    const endStatus = EgressStatus[this.options.egressStatusOnRoomEnd ?? 'EGRESS_COMPLETE'];
    for (const info of this.egress.values()) {
      if (info.roomId !== room.sid || !EGRESS_ACTIVE_STATES.has(info.status)) continue;
      this.endEgress(info, END_REASON.sourceClosed, endStatus);
    }
    for (const info of this.ingress.values()) {
      if (info.roomName === roomName && info.state?.status === IngressState_Status.ENDPOINT_PUBLISHING) this.finishIngress(info);
    }
    return finished;
  }

  /** An RTMP ingress starts publishing: ingress_started, and its INGRESS participant joins. */
  startIngress(roomName: string, opts: StartIngressOptions = {}): IngressInfo {
    const room = this.ensureRoom(roomName);
    const ingressId = newGuid('ingress', this.random);
    const identity = opts.identity ?? `ingress-${ingressId.slice(3)}`;
    const startedAt = nowNanos();
    const info = new IngressInfo({
      ingressId,
      name: opts.name ?? identity,
      streamKey: ingressId.slice(3),
      url: 'rtmp://localhost:1935/x',
      roomName,
      participantIdentity: identity,
      participantName: opts.name ?? identity,
      // Each publishing session gets a resource id of its own (the RTMP handler's NewGuid(RT_)).
      state: new IngressState({
        status: IngressState_Status.ENDPOINT_PUBLISHING,
        roomId: room.sid,
        startedAt,
        updatedAt: startedAt,
        resourceId: newGuid('rtmpResource', this.random),
      }),
    });
    this.ingress.set(ingressId, info);
    // livekit/livekit pkg/telemetry/events.go `IngressStarted`/`IngressEnded`: the event's room is
    // `toMinimalRoomProto("", roomName)`, a name and NO sid (the ingress's own state.roomId has it).
    this.emit('ingress_started', { room: new Room({ name: roomName }), ingressInfo: info.clone() });
    this.join(roomName, identity, { kind: 'INGRESS', name: info.participantName });
    return info.clone();
  }

  /** The stream stops: the INGRESS participant leaves, then ingress_ended. */
  endIngress(ingressId: string): IngressInfo {
    const info = this.ingress.get(ingressId);
    if (!info) throw new IngressNotFoundError(ingressId);
    const room = this.rooms.get(info.roomName);
    if (room) {
      const participant = room.participants.get(info.participantIdentity);
      if (participant) this.disconnect(room, participant, DisconnectReason.CLIENT_INITIATED);
    }
    this.finishIngress(info);
    if (room) this.scheduleCloseIfEmpty(room);
    return info.clone();
  }

  // ---- ground truth --------------------------------------------------------------------------

  listRooms(names?: readonly string[]): Room[] {
    const wanted = names && names.length > 0 ? new Set(names) : undefined;
    return [...this.rooms.values()].filter((r) => !wanted || wanted.has(r.name)).map((r) => this.roomInfo(r));
  }

  getRoom(name: string): Room | undefined {
    const room = this.rooms.get(name);
    return room ? this.roomInfo(room) : undefined;
  }

  /** Rooms that existed and ended, oldest first (LiveKit itself keeps no such history). */
  endedRooms(): readonly EndedRoom[] {
    return this.endedRoomLog;
  }

  /** ACTIVE participants of a room; empty for an unknown room, as LiveKit's store answers. */
  listParticipants(roomName: string): ParticipantInfo[] {
    const room = this.rooms.get(roomName);
    return room ? [...room.participants.values()].map((p) => this.participantInfo(p)) : [];
  }

  /** `ListParticipants` as the server API answers it: an unknown room is an empty list, or `RoomNotFoundError` when configured `not_found`. */
  apiListParticipants(roomName: string): ParticipantInfo[] {
    if (!this.rooms.has(roomName) && this.options.participantsOfUnknownRoom === 'not_found') throw new RoomNotFoundError(roomName);
    return this.listParticipants(roomName);
  }

  /** A page of `items` from `pageToken` on, `apiPageSize` long (every item when unset). */
  page<T>(items: readonly T[], pageToken: string | undefined): Page<T> {
    const size = this.options.apiPageSize;
    let start = 0;
    if (pageToken) {
      const match = /^p(\d+)$/.exec(pageToken);
      if (!match) throw new RangeError(`invalid page token: ${pageToken}`);
      start = Number(match[1]);
    }
    if (!size) return { items: items.slice(start), nextPageToken: '' };
    const end = start + size;
    return { items: items.slice(start, end), nextPageToken: end < items.length ? `p${end}` : '' };
  }

  getParticipant(roomName: string, identity: string): ParticipantInfo {
    const room = this.requireRoom(roomName);
    const participant = room.participants.get(identity);
    if (!participant) throw new ParticipantNotFoundError(roomName, identity);
    return this.participantInfo(participant);
  }

  /** LiveKit's ListEgress filters: egress id (unknown id is an error), room name, active only. */
  listEgress(filter: { readonly roomName?: string; readonly egressId?: string; readonly active?: boolean } = {}): EgressInfo[] {
    let items: EgressInfo[];
    if (filter.egressId) items = [this.requireEgress(filter.egressId)];
    else items = [...this.egress.values()];
    return items
      .filter((e) => !filter.roomName || e.roomName === filter.roomName)
      .filter((e) => !filter.active || EGRESS_ACTIVE_STATES.has(e.status))
      .map((e) => e.clone());
  }

  /** LiveKit's ListIngress filters: ingress id (unknown id is an error), room name; ended ingresses stay listed. */
  listIngress(filter: { readonly roomName?: string; readonly ingressId?: string } = {}): IngressInfo[] {
    let items: IngressInfo[];
    if (filter.ingressId) {
      const info = this.ingress.get(filter.ingressId);
      if (!info) throw new IngressNotFoundError(filter.ingressId);
      items = [info];
    } else items = [...this.ingress.values()];
    return items.filter((i) => !filter.roomName || i.roomName === filter.roomName).map((i) => i.clone());
  }

  // ---- internals -----------------------------------------------------------------------------

  private emit(type: string, fields: Partial<Pick<WebhookEvent, 'room' | 'participant' | 'track' | 'egressInfo' | 'ingressInfo'>>): void {
    this.options.notify(new WebhookEvent({ event: type, ...fields }));
  }

  private emitEgress(type: string, info: EgressInfo): void {
    this.emit(type, { room: new Room({ sid: info.roomId, name: info.roomName }), egressInfo: info.clone() });
  }

  private activate(info: EgressInfo): void {
    info.status = EgressStatus.EGRESS_ACTIVE;
    info.startedAt = nowNanos();
    info.updatedAt = info.startedAt;
    this.emitEgress('egress_updated', info);
  }

  /**
   * livekit/egress `pkg/pipeline/controller.go` `SendEOS(reason)`: details "End reason: <reason>";
   * STARTING → ABORTED (`SetAborted`, error `MSG_START_NOT_RECEIVED`, no ENDING update); ACTIVE → ENDING
   * (egress_updated) then `activeEnd`; ENDING → `activeEnd`. Returns the ENDING or ABORTED snapshot.
   */
  private endEgress(info: EgressInfo, reason: string, activeEnd: EgressStatus): EgressInfo {
    if (info.status === EgressStatus.EGRESS_STARTING) {
      info.details = endReasonDetails(reason);
      info.error = MSG_START_NOT_RECEIVED;
      info.errorCode = 412;
      this.finishEgress(info, EgressStatus.EGRESS_ABORTED);
      return info.clone();
    }
    const ending = info.status === EgressStatus.EGRESS_ENDING ? info.clone() : this.markEnding(info, endReasonDetails(reason));
    this.finishEgress(info, activeEnd);
    return ending;
  }

  /**
   * A failing auto egress (`CreateRoomOptions.failingAutoEgress`), launched when a track is published
   * (livekit/livekit `pkg/rtc/room.go` `onTrackPublished`): participant egress on the identity's first
   * publication, track egress on every track of a participant that is not kind EGRESS. Each failure is
   * `egress_ended` FAILED with no egress id (`pkg/rtc/egress.go`; the event's queue key is then "").
   */
  private launchAutoEgress(room: RoomState, participant: ParticipantState, track: TrackInfo): void {
    const auto = room.failingAutoEgress;
    if (!auto) return;
    const firstPublication = !room.hasPublished.has(participant.identity);
    room.hasPublished.add(participant.identity);
    const error = auto.error ?? AUTO_EGRESS_LAUNCH_ERROR;
    const fail = (request: EgressInfo['request']) =>
      this.emitEgress(
        'egress_ended',
        new EgressInfo({ roomId: room.sid, roomName: room.name, status: EgressStatus.EGRESS_FAILED, error, request }),
      );
    if (auto.participant && firstPublication) {
      fail({ case: 'participant', value: new ParticipantEgressRequest({ roomName: room.name, identity: participant.identity }) });
    }
    if (auto.track && participant.kind !== ParticipantInfo_Kind.EGRESS) {
      fail({ case: 'track', value: new TrackEgressRequest({ roomName: room.name, trackId: track.sid }) });
    }
  }

  /** agent_job_started for an AGENT participant's job (JT_ROOM, JS_RUNNING); no `room` on the event. */
  private startAgentJob(room: RoomState, participant: ParticipantState): void {
    const now = nowNanos();
    participant.job = new Job({
      id: newGuid('agentJob', this.random),
      dispatchId: newGuid('agentDispatch', this.random),
      type: JobType.JT_ROOM,
      room: this.reducedRoom(room),
      agentName: participant.name || participant.identity,
      state: new JobState({
        status: JobStatus.JS_RUNNING,
        startedAt: now,
        updatedAt: now,
        participantIdentity: participant.identity,
        workerId: newGuid('agentWorker', this.random),
      }),
    });
    this.emitJob('agent_job_started', participant.job);
  }

  /** agent_job_ended (JS_SUCCESS) once the agent's session ended. */
  private endAgentJob(participant: ParticipantState): void {
    const job = participant.job;
    if (!job) return;
    participant.job = undefined;
    const now = nowNanos();
    const state = job.state ?? new JobState();
    state.status = JobStatus.JS_SUCCESS;
    state.endedAt = now;
    state.updatedAt = now;
    job.state = state;
    this.emitJob('agent_job_ended', job);
  }

  private emitJob(type: string, job: Job): void {
    this.options.notify(new WebhookEvent({ event: type, job: job.clone() }));
  }

  private markEnding(info: EgressInfo, details: string): EgressInfo {
    info.status = EgressStatus.EGRESS_ENDING;
    info.details = details;
    info.updatedAt = nowNanos();
    this.emitEgress('egress_updated', info);
    return info.clone();
  }

  private finishEgress(info: EgressInfo, status: EgressStatus): void {
    info.status = status;
    info.endedAt = nowNanos();
    info.updatedAt = info.endedAt;
    if (status === EgressStatus.EGRESS_COMPLETE) {
      const startedAt = info.startedAt || info.endedAt;
      info.fileResults = [
        new FileInfo({
          filename: `${info.roomName}-${info.egressId}.mp4`,
          startedAt,
          endedAt: info.endedAt,
          duration: info.endedAt - startedAt,
          size: 1024n,
          location: `s3://recordings/${info.roomName}-${info.egressId}.mp4`,
        }),
      ];
    }
    this.emitEgress('egress_ended', info);
  }

  private finishIngress(info: IngressInfo): void {
    const state = info.state ?? new IngressState();
    state.status = IngressState_Status.ENDPOINT_INACTIVE;
    state.endedAt = nowNanos();
    state.updatedAt = state.endedAt;
    info.state = state;
    this.emit('ingress_ended', { room: new Room({ name: info.roomName }), ingressInfo: info.clone() });
  }

  private ensureRoom(name: string): RoomState {
    if (!this.rooms.has(name)) this.createRoom(name);
    return this.rooms.get(name)!;
  }

  private requireRoom(name: string): RoomState {
    const room = this.rooms.get(name);
    if (!room) throw new RoomNotFoundError(name);
    return room;
  }

  private requireEgress(egressId: string): EgressInfo {
    const info = this.egress.get(egressId);
    if (!info) throw new EgressNotFoundError(egressId);
    return info;
  }

  private findParticipant(room: RoomState, identityOrSid: string): ParticipantState {
    const byIdentity = room.participants.get(identityOrSid);
    if (byIdentity) return byIdentity;
    for (const p of room.participants.values()) if (p.sid === identityOrSid) return p;
    throw new ParticipantNotFoundError(room.name, identityOrSid);
  }

  private newParticipant(identity: string, opts: JoinOptions): ParticipantState {
    if (!identity) throw new RangeError('identity is required');
    return {
      sid: newGuid('participant', this.random),
      identity,
      name: opts.name ?? '',
      kind: ParticipantInfo_Kind[opts.kind ?? 'STANDARD'],
      metadata: opts.metadata ?? '',
      joinedAtMs: Date.now(),
      state: ParticipantInfo_State.JOINING,
      version: 0,
      tracks: new Map(),
    };
  }

  private replaceDuplicate(room: RoomState, identity: string): void {
    const existing = room.participants.get(identity);
    if (existing) this.disconnect(room, existing, DisconnectReason.DUPLICATE_IDENTITY);
  }

  private disconnect(room: RoomState, participant: ParticipantState, reason: DisconnectReason): ParticipantInfo {
    for (const track of [...participant.tracks.values()]) {
      participant.tracks.delete(track.info.sid);
      participant.version += 1;
      this.emit('track_unpublished', {
        room: this.reducedRoom(room),
        participant: this.reducedParticipant(participant),
        track: track.info.clone(),
      });
    }
    room.participants.delete(participant.identity);
    // participant_left only for a session that had become ACTIVE; one still JOINING ends with
    // participant_connection_aborted (livekit/livekit pkg/telemetry/events.go, `ParticipantLeft`: `isConnected`).
    const wasActive = participant.state !== ParticipantInfo_State.JOINING;
    participant.state = ParticipantInfo_State.DISCONNECTED;
    participant.version += 1;
    const info = this.participantInfo(participant, reason);
    this.emit(wasActive ? 'participant_left' : 'participant_connection_aborted', { room: this.roomInfo(room), participant: info });
    this.endAgentJob(participant);
    return info;
  }

  private scheduleCloseIfEmpty(room: RoomState): void {
    const after = this.options.closeEmptyRoomsAfterMs;
    if (after === undefined || room.participants.size > 0 || room.cancelCloseTimer) return;
    const schedule = this.options.schedule ?? defaultSchedule;
    room.cancelCloseTimer = schedule(after, () => {
      room.cancelCloseTimer = undefined;
      if (this.rooms.get(room.name) === room && room.participants.size === 0) this.endRoom(room.name);
    });
  }

  private roomInfo(room: RoomState): Room {
    const participants = [...room.participants.values()];
    return new Room({
      sid: room.sid,
      name: room.name,
      emptyTimeout: room.emptyTimeout,
      departureTimeout: room.departureTimeout,
      creationTime: BigInt(Math.floor(room.creationTimeMs / 1000)),
      creationTimeMs: BigInt(room.creationTimeMs),
      enabledCodecs: ENABLED_CODECS.map((mime) => new Codec({ mime })),
      metadata: room.metadata,
      // livekit/livekit pkg/rtc/room.go `updateProto` counts only participants that are not
      // `IsDependent()` (pkg/rtc/participant.go: kind AGENT or EGRESS, or an agent/recorder grant);
      // JOINING participants count. Webhooks and ListParticipants include everyone.
      numParticipants: participants.filter((p) => p.kind !== ParticipantInfo_Kind.AGENT && p.kind !== ParticipantInfo_Kind.EGRESS).length,
      numPublishers: participants.filter((p) => p.tracks.size > 0).length,
      activeRecording: [...this.egress.values()].some((e) => e.roomId === room.sid && EGRESS_ACTIVE_STATES.has(e.status)),
    });
  }

  private reducedRoom(room: RoomState): Room {
    return new Room({ sid: room.sid, name: room.name });
  }

  private reducedParticipant(participant: ParticipantState): ParticipantInfo {
    return new ParticipantInfo({ sid: participant.sid, identity: participant.identity });
  }

  private participantInfo(participant: ParticipantState, disconnectReason?: DisconnectReason): ParticipantInfo {
    return new ParticipantInfo({
      sid: participant.sid,
      identity: participant.identity,
      name: participant.name,
      state: participant.state,
      tracks: [...participant.tracks.values()].map((t) => t.info.clone()),
      metadata: participant.metadata,
      joinedAt: BigInt(Math.floor(participant.joinedAtMs / 1000)),
      joinedAtMs: BigInt(participant.joinedAtMs),
      version: participant.version,
      permission: new ParticipantPermission({ canSubscribe: true, canPublish: true, canPublishData: true }),
      isPublisher: participant.tracks.size > 0,
      kind: participant.kind,
      ...(disconnectReason !== undefined ? { disconnectReason } : {}),
    });
  }
}

function defaultSchedule(ms: number, fn: () => void): () => void {
  const timer = setTimeout(fn, ms);
  return () => clearTimeout(timer);
}
