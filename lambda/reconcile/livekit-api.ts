/**
 * The part of LiveKit's server API the reconciler reads, as an interface: the Lambda and the local
 * runtime back it with `livekit-server-sdk`'s RoomServiceClient/EgressClient/IngressClient (each signs
 * its own token with the grant its method needs: roomList, roomAdmin + room, roomRecord,
 * ingressAdmin); tests can wrap it to
 * inject what the simulator cannot (a room vanishing between two calls).
 */
import type { EgressInfo, IngressInfo, ParticipantInfo, Room } from '@livekit/protocol';
import { EgressClient, IngressClient, RoomServiceClient, ServerError } from 'livekit-server-sdk';

export type LiveKitMethod = 'ListRooms' | 'ListParticipants' | 'ListEgress' | 'ListIngress';

export interface LiveKitApi {
  /** Every active room, with `numParticipants`. */
  listRooms(): Promise<Room[]>;
  /** The participants of the room named `room`; an unknown room answers an empty list. */
  listParticipants(room: string): Promise<ParticipantInfo[]>;
  listEgress(options: { readonly active?: boolean; readonly egressId?: string }): Promise<EgressInfo[]>;
  /** Every ingress of the project (or of one room, or one id), each with the state of its current or last session. */
  listIngress(options?: { readonly roomName?: string; readonly ingressId?: string }): Promise<IngressInfo[]>;
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
    listRooms: () => rooms.listRooms(),
    listParticipants: (room) => rooms.listParticipants(room),
    listEgress: (filter) => egress.listEgress({ ...filter }),
    listIngress: (filter) => ingress.listIngress({ ...filter }),
  };
}

/** HTTP status of a LiveKit API error, when the server answered. */
export function errorStatus(error: unknown): number | undefined {
  return error instanceof ServerError || (typeof error === 'object' && error !== null && typeof (error as ServerError).status === 'number' && 'code' in error)
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
  return status === 429 || status >= 500;
}

/** LiveKit does not know the resource (egress records are kept ~24 h). */
export function isNotFound(error: unknown): boolean {
  const status = errorStatus(error);
  return status === 404 || (status !== undefined && (error as ServerError).code === 'not_found');
}
