/**
 * The LiveKit server API over HTTP, as livekit-server serves it (pkg/service/auth.go,
 * roomservice.go, egress.go, ingress.go): the auth middleware first (a malformed, unverifiable or
 * unknown-key token is a plain-text 401), then Twirp routing, then each method's grant check
 * (a missing grant is Twirp `unauthenticated`, 401, as `twirpAuthError` makes it), then the call.
 */
import * as http from 'node:http';
import type { Socket } from 'node:net';
import {
  DeleteRoomRequest,
  DeleteRoomResponse,
  ListEgressRequest,
  ListEgressResponse,
  ListIngressRequest,
  ListIngressResponse,
  ListParticipantsRequest,
  ListParticipantsResponse,
  ListRoomsRequest,
  ListRoomsResponse,
  CreateRoomRequest,
  RemoveParticipantResponse,
  RoomCompositeEgressRequest,
  RoomParticipantIdentity,
  StopEgressRequest,
  TokenPagination,
} from '@livekit/protocol';
import { TokenVerifier } from 'livekit-server-sdk';
import { FaultInjector } from './fault-injector';
import { listen } from './listen';
import {
  EgressNotActiveError,
  EgressNotFoundError,
  IngressNotFoundError,
  LiveKitModel,
  ParticipantNotFoundError,
  RoomNotFoundError,
} from './livekit-model';
import { TimerSet } from './timing';
import { twirpCodeForStatus, TwirpError, writePlainError, writeTwirpError, writeTwirpJson } from './twirp';

/** The grants of a verified token (the `video` claim livekit-server-sdk writes). */
interface VideoGrant {
  readonly roomList?: boolean;
  readonly roomCreate?: boolean;
  readonly roomAdmin?: boolean;
  readonly roomRecord?: boolean;
  readonly ingressAdmin?: boolean;
  readonly room?: string;
}

type Handler = (body: unknown, grant: VideoGrant | undefined) => unknown;

export interface TwirpServerProps {
  readonly model: LiveKitModel;
  /** API key → secret; every pair is accepted (key rotation). */
  readonly keys: Readonly<Record<string, string>>;
  readonly faults: FaultInjector;
  readonly timers: TimerSet;
  readonly host?: string;
  readonly port?: number;
  /** `false`: a LiveKit without Redis, whose egress and ingress methods answer `NOT_CONNECTED` (see `LiveKitSimulatorProps.redis`). */
  readonly redis?: boolean;
}

const PERMISSION_DENIED = 'permissions denied';

/**
 * What a LiveKit without Redis answers on its egress and ingress methods, after the grant check:
 * livekit/livekit `pkg/service/wire.go` `getEgressStore` / `getIngressStore` give a nil store for
 * anything but a `RedisStore`, and `pkg/service/ioservice.go` `ListEgress` / `GetEgress`,
 * `pkg/service/ingress.go` `ListIngress` then return `ErrEgressNotConnected` /
 * `ErrIngressNotConnected` (`pkg/service/errors.go`: psrpc `Internal`, i.e. Twirp `internal`, HTTP 500).
 */
export const NOT_CONNECTED = {
  egress: 'egress not connected (redis required)',
  ingress: 'ingress not connected (redis required)',
} as const;

export class TwirpServer {
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly handlers: Record<string, Handler>;
  private baseUrl?: string;

  constructor(private readonly props: TwirpServerProps) {
    if (Object.keys(props.keys).length === 0) throw new RangeError('at least one API key is required');
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) writeTwirpError(res, new TwirpError('internal', err instanceof Error ? err.message : String(err)));
        else res.destroy();
      });
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.handlers = this.buildHandlers();
  }

  get url(): string {
    if (!this.baseUrl) throw new Error('server API is not started');
    return this.baseUrl;
  }

  async start(): Promise<string> {
    if (this.baseUrl) return this.baseUrl;
    const host = this.props.host ?? '127.0.0.1';
    const port = await listen(this.server, this.props.port ?? 0, host);
    this.baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    return this.baseUrl;
  }

  /** Closes the listener and every connection, hung requests included. */
  async stop(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route = /^\/twirp\/livekit\.(RoomService|Egress|Ingress)\/([A-Za-z]+)$/.exec(path);
    const method = route?.[2] ?? path;

    const fault = this.props.faults.next(method);
    const latency = this.props.faults.latencyFor(method);
    if (latency > 0) await this.props.timers.sleep(latency);
    if (this.props.timers.isClosed) return;
    if (fault?.kind === 'hang') return; // the socket is destroyed on stop()
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'error') {
      const error = new TwirpError(
        fault.code ?? twirpCodeForStatus(fault.status),
        fault.msg ?? `injected ${fault.status}`,
        undefined,
        fault.status,
      );
      writeTwirpError(res, error, fault.retryAfterSeconds !== undefined ? { 'Retry-After': String(fault.retryAfterSeconds) } : {});
      return;
    }

    const auth = await this.authenticate(req.headers.authorization);
    if ('rejected' in auth) {
      writePlainError(res, 401, auth.rejected);
      return;
    }

    const handler = route && Object.hasOwn(this.handlers, `${route[1]}.${route[2]}`) ? this.handlers[`${route[1]}.${route[2]}`] : undefined;
    if (req.method !== 'POST' || !handler) {
      const msg = req.method !== 'POST' ? `unsupported method ${req.method} (only POST is allowed)` : `no handler for path "${path}"`;
      writeTwirpError(res, new TwirpError('bad_route', msg, { twirp_invalid_route: `${req.method} ${path}` }));
      return;
    }
    const contentType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (contentType !== 'application/json') {
      writeTwirpError(
        res,
        new TwirpError('bad_route', `unexpected Content-Type: "${req.headers['content-type'] ?? ''}"`, {
          twirp_invalid_route: `POST ${path}`,
        }),
      );
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      writeTwirpError(res, new TwirpError('malformed', 'the json request could not be decoded'));
      return;
    }
    try {
      writeTwirpJson(res, handler(json, auth.grant));
    } catch (err) {
      writeTwirpError(res, toTwirpError(err));
    }
  }

  /** livekit-server's `APIKeyAuthMiddleware`; no header at all means "no grants", not a rejection. */
  private async authenticate(header: string | undefined): Promise<{ grant: VideoGrant | undefined } | { rejected: string }> {
    if (!header) return { grant: undefined };
    if (!header.startsWith('Bearer ')) return { rejected: 'invalid authorization header. Must start with Bearer ' };
    const token = header.slice('Bearer '.length);
    const issuer = jwtIssuer(token);
    if (issuer === undefined) return { rejected: 'invalid authorization token' };
    const secret = Object.hasOwn(this.props.keys, issuer) ? this.props.keys[issuer] : undefined;
    if (!secret) return { rejected: `invalid API key: ${issuer}` };
    try {
      const claims = await new TokenVerifier(issuer, secret).verify(token);
      return { grant: (claims as { video?: VideoGrant }).video };
    } catch (err) {
      return { rejected: `invalid token: ${token}, error: ${err instanceof Error ? err.message : String(err)}` };
    }
  }

  private buildHandlers(): Record<string, Handler> {
    const model = this.props.model;
    const requireStore = (service: keyof typeof NOT_CONNECTED) => {
      if (this.props.redis === false) throw new TwirpError('internal', NOT_CONNECTED[service]);
    };
    return {
      'RoomService.ListRooms': (body, grant) => {
        if (!grant?.roomList) throw denied();
        const req = ListRoomsRequest.fromJson(body as never, { ignoreUnknownFields: true });
        return new ListRoomsResponse({ rooms: model.listRooms(req.names) }).toJson();
      },
      'RoomService.CreateRoom': (body, grant) => {
        if (!grant?.roomCreate) throw denied();
        const req = CreateRoomRequest.fromJson(body as never, { ignoreUnknownFields: true });
        return model
          .createRoom(req.name, { metadata: req.metadata, ...(req.emptyTimeout ? { emptyTimeout: req.emptyTimeout } : {}) })
          .toJson();
      },
      'RoomService.DeleteRoom': (body, grant) => {
        if (!grant?.roomCreate) throw denied();
        const req = DeleteRoomRequest.fromJson(body as never, { ignoreUnknownFields: true });
        if (!model.getRoom(req.room)) throw new TwirpError('not_found', 'room not found');
        model.endRoom(req.room);
        return new DeleteRoomResponse().toJson();
      },
      'RoomService.ListParticipants': (body, grant) => {
        const req = ListParticipantsRequest.fromJson(body as never, { ignoreUnknownFields: true });
        requireAdmin(grant, req.room);
        return new ListParticipantsResponse({ participants: model.apiListParticipants(req.room) }).toJson();
      },
      'RoomService.GetParticipant': (body, grant) => {
        const req = RoomParticipantIdentity.fromJson(body as never, { ignoreUnknownFields: true });
        requireAdmin(grant, req.room);
        return model.getParticipant(req.room, req.identity).toJson();
      },
      'RoomService.RemoveParticipant': (body, grant) => {
        const req = RoomParticipantIdentity.fromJson(body as never, { ignoreUnknownFields: true });
        // livekit-server looks the participant up before it checks the grant; so does this.
        if (!model.listParticipants(req.room).some((p) => p.identity === req.identity)) {
          throw new TwirpError('not_found', 'participant not found');
        }
        requireAdmin(grant, req.room);
        model.leave(req.room, req.identity, 'PARTICIPANT_REMOVED');
        return new RemoveParticipantResponse().toJson();
      },
      'Egress.StartRoomCompositeEgress': (body, grant) => {
        if (!grant?.roomRecord) throw denied();
        // Simplified: LiveKit's launcher asks its (local) bus for an egress worker, and none ever
        // connects to a server without Redis; the simulator answers as the other egress methods do.
        requireStore('egress');
        const req = RoomCompositeEgressRequest.fromJson(body as never, { ignoreUnknownFields: true });
        return model.startRoomCompositeEgress(req.roomName, { request: req }).toJson();
      },
      'Egress.StopEgress': (body, grant) => {
        if (!grant?.roomRecord) throw denied();
        // pkg/service/egress.go `StopEgress`: the launcher fails, then `GetEgress` answers not connected.
        requireStore('egress');
        const req = StopEgressRequest.fromJson(body as never, { ignoreUnknownFields: true });
        return model.stopEgress(req.egressId).toJson();
      },
      'Egress.ListEgress': (body, grant) => {
        if (!grant?.roomRecord) throw denied();
        requireStore('egress');
        const req = ListEgressRequest.fromJson(body as never, { ignoreUnknownFields: true });
        const page = model.page(
          model.listEgress({ roomName: req.roomName, egressId: req.egressId, active: req.active }),
          req.pageToken?.token,
        );
        return new ListEgressResponse({
          items: page.items,
          ...(page.nextPageToken ? { nextPageToken: new TokenPagination({ token: page.nextPageToken }) } : {}),
        }).toJson();
      },
      // pkg/service/ingress.go: EnsureIngressAdminPermission, the store check, then by id (LoadIngress) or by room.
      'Ingress.ListIngress': (body, grant) => {
        if (!grant?.ingressAdmin) throw denied();
        requireStore('ingress');
        const req = ListIngressRequest.fromJson(body as never, { ignoreUnknownFields: true });
        const page = model.page(model.listIngress({ roomName: req.roomName, ingressId: req.ingressId }), req.pageToken?.token);
        return new ListIngressResponse({
          items: page.items,
          ...(page.nextPageToken ? { nextPageToken: new TokenPagination({ token: page.nextPageToken }) } : {}),
        }).toJson();
      },
    };
  }
}

function denied(): TwirpError {
  return new TwirpError('unauthenticated', PERMISSION_DENIED);
}

/** `EnsureAdminPermission`: roomAdmin and a `room` grant naming this very room. */
function requireAdmin(grant: VideoGrant | undefined, room: string): void {
  if (!grant?.roomAdmin || grant.room !== room) throw denied();
}

function toTwirpError(err: unknown): TwirpError {
  if (err instanceof TwirpError) return err;
  if (err instanceof RoomNotFoundError) return new TwirpError('not_found', 'requested room does not exist');
  if (err instanceof ParticipantNotFoundError) return new TwirpError('not_found', 'participant does not exist');
  if (err instanceof EgressNotFoundError) return new TwirpError('not_found', 'egress does not exist');
  if (err instanceof IngressNotFoundError) return new TwirpError('not_found', 'ingress does not exist');
  if (err instanceof EgressNotActiveError) return new TwirpError('failed_precondition', err.message);
  if (err instanceof RangeError) return new TwirpError('invalid_argument', err.message);
  return new TwirpError('internal', err instanceof Error ? err.message : String(err));
}

function jwtIssuer(token: string): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { iss?: unknown };
    return typeof payload.iss === 'string' ? payload.iss : undefined;
  } catch {
    return undefined;
  }
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
