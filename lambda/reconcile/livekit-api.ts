/**
 * The part of LiveKit's server API the reconciler reads, as an interface: the Lambda and the local
 * runtime back it with `livekit-server-sdk`'s RoomServiceClient/EgressClient/IngressClient (each signs
 * its own token with the grant its method needs: roomList, roomAdmin + room, roomRecord,
 * ingressAdmin); tests can wrap it to
 * inject what the simulator cannot (a room vanishing between two calls).
 */
import {
  EgressInfo,
  IngressInfo,
  ListEgressRequest,
  ListEgressResponse,
  ListIngressRequest,
  ListIngressResponse,
  ParticipantInfo,
  Room,
  TokenPagination,
} from '@livekit/protocol';
import { EgressClient, IngressClient, RoomServiceClient, ServerError, VideoGrant } from 'livekit-server-sdk';

export type LiveKitMethod = 'ListRooms' | 'ListParticipants' | 'ListEgress' | 'ListIngress';

export interface LiveKitApi {
  /** The server it calls (for "unreachable" logs); absent on test doubles. */
  readonly url?: string;
  /** Every active room, with `numParticipants`. */
  listRooms(): Promise<Room[]>;
  /**
   * The participants of the room named `room`, JOINING ones included. A room that does not exist
   * (any more) answers an empty list on a self-hosted server (livekit/livekit
   * pkg/service/roomservice.go `ListParticipants` reads its Local or Redis store unless
   * `enable_psrpc_for_get_list_participants` is set), or Twirp `not_found` on LiveKit Cloud and with
   * that option (pkg/service/roommanager.go `ListParticipants`: `ErrRoomNotFound`).
   */
  listParticipants(room: string): Promise<ParticipantInfo[]>;
  /** Every page (the SDK reads only the first): the whole listing. */
  listEgress(options: { readonly active?: boolean; readonly egressId?: string }): Promise<EgressInfo[]>;
  /** Every ingress of the project (or of one room, or one id), each with the state of its current or last session; every page. */
  listIngress(options?: { readonly roomName?: string; readonly ingressId?: string }): Promise<IngressInfo[]>;
}

/** The SDK's Twirp client, which its service clients keep in a private `rpc` field. */
interface TwirpRequester {
  request(service: string, method: string, data: unknown, headers: Record<string, string>): Promise<unknown>;
}

/** Upper bound on pages read for one listing: a token loop must never run a Lambda out. */
const MAX_PAGES = 1000;

/**
 * ListEgress and ListIngress page (`pageToken` in the request, `nextPageToken` in the answer:
 * livekit/protocol protobufs/livekit_egress.proto, livekit_ingress.proto `TokenPagination`), and
 * livekit-server-sdk's `listEgress`/`listIngress` drop `nextPageToken`: read as complete, a paged
 * listing makes every item beyond page one look gone. So the pages are read here, through the
 * SDK's own Twirp client (its auth header, timeout and LiveKit Cloud region failover).
 */
async function readAllPages<I>(
  client: EgressClient | IngressClient,
  service: 'Egress' | 'Ingress',
  grant: VideoGrant,
  request: (pageToken: TokenPagination | undefined) => ListEgressRequest | ListIngressRequest,
  parse: (json: unknown) => { items: I[]; nextPageToken?: TokenPagination },
): Promise<I[]> {
  const rpc = (client as unknown as { rpc: TwirpRequester }).rpc;
  const items: I[] = [];
  let pageToken: TokenPagination | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const data = await rpc.request(service, `List${service}`, request(pageToken).toJson(), await client.authHeader(grant));
    const answer = parse(data);
    items.push(...answer.items);
    const next = answer.nextPageToken?.token;
    if (!next || next === pageToken?.token) return items;
    pageToken = new TokenPagination({ token: next });
  }
  throw new Error(`List${service} returned more than ${MAX_PAGES} pages`);
}

export interface LiveKitApiOptions {
  readonly url: string;
  readonly apiKey: string;
  readonly apiSecret: string;
  /**
   * Per-attempt timeout of the SDK, in seconds. Default: the SDK's 10 s (below 5 s the SDK also
   * stops failing over to other LiveKit Cloud regions).
   */
  readonly requestTimeoutSeconds?: number;
}

export function createLiveKitApi(options: LiveKitApiOptions): LiveKitApi {
  const clientOptions = options.requestTimeoutSeconds !== undefined ? { requestTimeout: options.requestTimeoutSeconds } : undefined;
  const rooms = new RoomServiceClient(options.url, options.apiKey, options.apiSecret, clientOptions);
  const egress = new EgressClient(options.url, options.apiKey, options.apiSecret, clientOptions);
  const ingress = new IngressClient(options.url, options.apiKey, options.apiSecret, clientOptions);
  return {
    url: options.url,
    listRooms: () => rooms.listRooms(),
    listParticipants: (room) => rooms.listParticipants(room),
    listEgress: (filter) =>
      readAllPages(
        egress,
        'Egress',
        { roomRecord: true },
        (pageToken) => new ListEgressRequest({ ...filter, ...(pageToken ? { pageToken } : {}) }),
        (json) => ListEgressResponse.fromJson(json as never, { ignoreUnknownFields: true }),
      ),
    listIngress: (filter) =>
      readAllPages(
        ingress,
        'Ingress',
        { ingressAdmin: true },
        (pageToken) => new ListIngressRequest({ ...filter, ...(pageToken ? { pageToken } : {}) }),
        (json) => ListIngressResponse.fromJson(json as never, { ignoreUnknownFields: true }),
      ),
  };
}

/** HTTP status of a LiveKit API error, when the server answered. */
export function errorStatus(error: unknown): number | undefined {
  return error instanceof ServerError ||
    (typeof error === 'object' && error !== null && typeof (error as ServerError).status === 'number' && 'code' in error)
    ? (error as ServerError).status
    : undefined;
}

/**
 * Worth another attempt: a throttle (429), a server error (5xx), a timeout or a transport error.
 * Any other 4xx (bad credentials, missing grant, not found) will answer the same again.
 */
export function isRetryable(error: unknown): boolean {
  const status = errorStatus(error);
  if (status === undefined) return true;
  if (notConnectedService(error) !== undefined) return false;
  return status === 429 || status >= 500;
}

/**
 * The LiveKit service this error says the server does not have: a LiveKit without Redis
 * (`livekit-server --dev`, a single self-hosted node) keeps no egress or ingress store
 * (livekit/livekit `pkg/service/wire.go` `getEgressStore` / `getIngressStore` are nil for anything
 * but a `RedisStore`), and its `ListEgress` / `ListIngress` answer `ErrEgressNotConnected` /
 * `ErrIngressNotConnected` (`pkg/service/errors.go`: psrpc `Internal` "egress not connected
 * (redis required)", i.e. Twirp `internal`, HTTP 500; `pkg/service/ioservice.go`,
 * `pkg/service/ingress.go`). That answer is the same on every call: a fact about the server, not an
 * outage. Only exactly that answer: any other 500 stays a failure.
 */
export function notConnectedService(error: unknown): 'egress' | 'ingress' | undefined {
  if (errorStatus(error) !== 500 || (error as ServerError).code !== 'internal') return undefined;
  const match = /^(egress|ingress) not connected \(redis required\)$/.exec((error as ServerError).message);
  return match ? (match[1] as 'egress' | 'ingress') : undefined;
}

/**
 * The server could not be reached at all (connection refused, DNS, timeout, reset): no HTTP
 * answer. Distinct from an answer with an error status.
 */
export function isUnreachable(error: unknown): boolean {
  return errorStatus(error) === undefined && !(error instanceof Error && error.name === 'BudgetExhaustedError');
}

/** LiveKit does not know the resource (egress records are kept ~24 h). */
export function isNotFound(error: unknown): boolean {
  const status = errorStatus(error);
  return status === 404 || (status !== undefined && (error as ServerError).code === 'not_found');
}
