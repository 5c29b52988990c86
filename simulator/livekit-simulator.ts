/**
 * A LiveKit server stand-in for tests, the benchmark and the demo: the state model and its scenario
 * API, the Twirp server API the official `livekit-server-sdk` clients call, fault injection on that
 * API, and a webhook sender with LiveKit's delivery rules that records what it did with every event.
 *
 *   const sim = new LiveKitSimulator({ keys: { devkey: 'secret' }, webhook: { urls: [url], timeScale: 0.01 } });
 *   const apiUrl = await sim.start();
 *   sim.join('room-a', 'alice');          // room_started, participant_joined
 *   await sim.idle();                      // every queue sent or dropped
 *   sim.webhooks.stats();                  // ground truth: delivered / dropped and why
 *   await sim.stop();
 */
import { EgressInfo, IngressInfo, ParticipantInfo, Room, TrackInfo, WebhookEvent } from '@livekit/protocol';
import { ApiFault, FaultInjector, FaultScope, MethodSelector } from './fault-injector';
import { RandomSource, seededRandom } from './ids';
import {
  CreateRoomOptions,
  DisconnectReasonName,
  EgressEndStatusName,
  EndedRoom,
  JoinOptions,
  LiveKitModel,
  PublishTrackOptions,
  RoomCompositeEgressOptions,
  StartIngressOptions,
} from './livekit-model';
import { TimerSet } from './timing';
import { NOT_CONNECTED, TwirpServer } from './twirp-server';
import { Delivery, GeneratedEvent, WebhookSender, WebhookSenderOptions, WebhookSenderStats } from './webhook-sender';

export interface LiveKitSimulatorWebhookOptions extends Omit<WebhookSenderOptions, 'urls' | 'apiKey' | 'apiSecret' | 'random'> {
  readonly urls: readonly string[];
  /** Key the events are signed with; its secret comes from `keys`. Default: the first key. */
  readonly apiKey?: string;
}

/**
 * Where the simulator reports what LiveKit itself would only log (a webhook it dropped): anything
 * with an `info(message, fields)`, such as the pipeline's Logger. A structural type, so the
 * simulator depends on nothing of the pipeline it stands in front of.
 */
export interface SimulatorLogger {
  info(message: string, fields?: Record<string, unknown>): void;
}

export interface LiveKitSimulatorProps {
  /** API key → secret. All are accepted by the server API; one of them signs webhooks. */
  readonly keys: Readonly<Record<string, string>>;
  /** Where and how webhooks go; without it events are generated and recorded but sent nowhere. */
  readonly webhook?: LiveKitSimulatorWebhookOptions;
  readonly host?: string;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Seed for ids and for "share of calls" faults, for reproducible runs. */
  readonly seed?: number;
  /** Latency added to every server API call, in ms. */
  readonly apiLatencyMs?: number;
  /** What an ACTIVE egress ends with on DeleteRoom; default COMPLETE, as LiveKit (see `LiveKitModelOptions`). */
  readonly egressStatusOnRoomEnd?: EgressEndStatusName;
  /** Emit `agent_job_started`/`agent_job_ended` around AGENT sessions (LiveKit Cloud; open source never does). Default off. */
  readonly agentJobEvents?: boolean;
  /** Close a room this long after its last participant left; unset = only `endRoom`/DeleteRoom close rooms. */
  readonly closeEmptyRoomsAfterMs?: number;
  /**
   * What ListParticipants answers for an unknown room: `empty` (default), as every self-hosted
   * server does by default; `not_found`, as LiveKit Cloud and a server with
   * `enable_psrpc_for_get_list_participants` do (see `LiveKitModelOptions`).
   */
  readonly participantsOfUnknownRoom?: 'not_found' | 'empty';
  /** Items per page of ListEgress / ListIngress; unset = one page. */
  readonly apiPageSize?: number;
  /** Logs each dropped webhook (event id, type, room, reason) at info. */
  readonly logger?: SimulatorLogger;
  /**
   * `false`: a LiveKit without Redis (`livekit-server --dev`, a single self-hosted node with no
   * `redis:` config). LiveKit keeps egress and ingress only in Redis (livekit/livekit
   * `pkg/service/wire.go` `getEgressStore` / `getIngressStore`), so its `ListEgress`, `StopEgress`,
   * `StartRoomCompositeEgress` and `ListIngress` answer Twirp `internal` (HTTP 500)
   * `egress not connected (redis required)` / `ingress not connected (redis required)`
   * (`pkg/service/errors.go`), and no egress or ingress can run: `startRoomCompositeEgress` and
   * `startIngress` throw. Default `true`.
   */
  readonly redis?: boolean;
}

export class LiveKitSimulator {
  readonly model: LiveKitModel;
  readonly webhooks: WebhookSender;
  readonly faults: FaultInjector;
  private readonly timers = new TimerSet();
  private readonly server: TwirpServer;
  private readonly random: RandomSource;
  private readonly redis: boolean;

  constructor(props: LiveKitSimulatorProps) {
    const keyIds = Object.keys(props.keys);
    if (keyIds.length === 0) throw new RangeError('at least one API key is required');
    this.random = props.seed !== undefined ? seededRandom(props.seed) : Math.random;
    const signingKey = props.webhook?.apiKey ?? keyIds[0];
    const signingSecret = props.keys[signingKey];
    if (!signingSecret) throw new RangeError(`webhook.apiKey ${signingKey} is not one of the keys`);
    this.webhooks = new WebhookSender({
      ...props.webhook,
      urls: props.webhook?.urls ?? [],
      apiKey: signingKey,
      apiSecret: signingSecret,
      random: this.random,
    });
    this.model = new LiveKitModel({
      notify: (event) => this.webhooks.send(event),
      random: this.random,
      ...(props.egressStatusOnRoomEnd ? { egressStatusOnRoomEnd: props.egressStatusOnRoomEnd } : {}),
      ...(props.agentJobEvents ? { agentJobEvents: true } : {}),
      ...(props.closeEmptyRoomsAfterMs !== undefined ? { closeEmptyRoomsAfterMs: props.closeEmptyRoomsAfterMs } : {}),
      schedule: (ms, fn) => this.timers.schedule(ms, fn),
      ...(props.participantsOfUnknownRoom ? { participantsOfUnknownRoom: props.participantsOfUnknownRoom } : {}),
      ...(props.apiPageSize !== undefined ? { apiPageSize: props.apiPageSize } : {}),
    });
    this.faults = new FaultInjector(this.random, props.apiLatencyMs ?? 0);
    this.server = new TwirpServer({
      model: this.model,
      keys: props.keys,
      faults: this.faults,
      timers: this.timers,
      host: props.host,
      port: props.port,
      ...(props.redis === false ? { redis: false } : {}),
    });
    this.redis = props.redis !== false;
    if (props.logger) {
      const logger = props.logger;
      this.webhooks.on('dropped', (d) =>
        logger.info('webhook dropped', { eventId: d.eventId, eventType: d.type, room: d.room, reason: d.dropReason, url: d.url }),
      );
    }
  }

  /** Starts the server API; returns its base URL (what `RoomServiceClient` takes as host). */
  start(): Promise<string> {
    return this.server.start();
  }

  get url(): string {
    return this.server.url;
  }

  /** Stops the API server (hung calls included), pending webhook sends and retries, and timers. */
  async stop(): Promise<void> {
    this.timers.cancelAll();
    await Promise.all([this.server.stop(), this.webhooks.stop()]);
  }

  /** Resolves when every webhook queue is empty and nothing is in flight. */
  idle(): Promise<void> {
    return this.webhooks.idle();
  }

  // ---- scenario ------------------------------------------------------------------------------

  createRoom(name: string, opts?: CreateRoomOptions): Room {
    return this.model.createRoom(name, opts);
  }

  join(room: string, identity: string, opts?: JoinOptions): ParticipantInfo {
    return this.model.join(room, identity, opts);
  }

  /** A participant connecting: listed as JOINING, no webhook until `join` makes it ACTIVE. */
  connect(room: string, identity: string, opts?: JoinOptions): ParticipantInfo {
    return this.model.connect(room, identity, opts);
  }

  leave(room: string, identityOrSid: string, reason?: DisconnectReasonName): ParticipantInfo {
    return this.model.leave(room, identityOrSid, reason);
  }

  abortConnection(room: string, identity: string, opts?: JoinOptions): ParticipantInfo {
    return this.model.abortConnection(room, identity, opts);
  }

  publishTrack(room: string, identity: string, opts?: PublishTrackOptions): TrackInfo {
    return this.model.publishTrack(room, identity, opts);
  }

  unpublishTrack(room: string, identity: string, trackSid: string): TrackInfo {
    return this.model.unpublishTrack(room, identity, trackSid);
  }

  startRoomCompositeEgress(room: string, opts?: RoomCompositeEgressOptions): EgressInfo {
    this.requireRedis('egress');
    return this.model.startRoomCompositeEgress(room, opts);
  }

  /** A STARTING egress (`awaitStartSignal`) goes ACTIVE. */
  activateEgress(egressId: string): EgressInfo {
    return this.model.activateEgress(egressId);
  }

  stopEgress(egressId: string): EgressInfo {
    return this.model.stopEgress(egressId);
  }

  failEgress(egressId: string, error?: string): EgressInfo {
    return this.model.failEgress(egressId, error);
  }

  endRoom(name: string): Room {
    return this.model.endRoom(name);
  }

  startIngress(room: string, opts?: StartIngressOptions): IngressInfo {
    this.requireRedis('ingress');
    return this.model.startIngress(room, opts);
  }

  endIngress(ingressId: string): IngressInfo {
    return this.model.endIngress(ingressId);
  }

  // ---- ground truth --------------------------------------------------------------------------

  rooms(): Room[] {
    return this.model.listRooms();
  }

  endedRooms(): readonly EndedRoom[] {
    return this.model.endedRooms();
  }

  participants(room: string): ParticipantInfo[] {
    return this.model.listParticipants(room);
  }

  egress(filter?: { readonly roomName?: string; readonly egressId?: string; readonly active?: boolean }): EgressInfo[] {
    return this.model.listEgress(filter);
  }

  ingress(filter?: { readonly roomName?: string; readonly ingressId?: string }): IngressInfo[] {
    return this.model.listIngress(filter);
  }

  /** Every webhook event generated, in order, with the exact body. */
  events(type?: string): GeneratedEvent[] {
    return this.webhooks.events().filter((e) => type === undefined || e.type === type);
  }

  /** Parsed copies of the generated events (as a receiver would parse them). */
  parsedEvents(type?: string): WebhookEvent[] {
    return this.events(type).map((e) => WebhookEvent.fromJsonString(e.body));
  }

  deliveries(): Delivery[] {
    return this.webhooks.deliveries();
  }

  stats(): WebhookSenderStats {
    return this.webhooks.stats();
  }

  // ---- server API faults ---------------------------------------------------------------------

  setApiLatency(ms: number, method?: MethodSelector): void {
    this.faults.setLatency(ms, method);
  }

  failNext(method: MethodSelector, times: number, fault: ApiFault): () => void {
    return this.faults.failNext(method, times, fault);
  }

  failShare(method: MethodSelector, share: number, fault: ApiFault): () => void {
    return this.faults.failShare(method, share, fault);
  }

  injectFault(method: MethodSelector, fault: ApiFault, scope?: FaultScope): () => void {
    return this.faults.inject(method, fault, scope);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Server API calls received for a method (`ListRooms`, `ListEgress`, ...), faulted ones included. */
  callCount(method: string): number {
    return this.faults.callCount(method);
  }

  callCounts(): Record<string, number> {
    return this.faults.callCounts();
  }

  /** A LiveKit without Redis runs no egress or ingress (see `LiveKitSimulatorProps.redis`). */
  private requireRedis(service: keyof typeof NOT_CONNECTED): void {
    if (!this.redis) throw new Error(`${NOT_CONNECTED[service]}: this simulator has redis: false`);
  }
}
