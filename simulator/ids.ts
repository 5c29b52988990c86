/**
 * Identifiers shaped like LiveKit's (`utils.NewGuid`: a prefix plus 12 characters of the shortuuid
 * alphabet, which leaves out 0, 1, I, O and l), and a seedable random source so a scenario that
 * injects faults "on a share of calls" can be replayed exactly.
 */

export type RandomSource = () => number;

const ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const GUID_LENGTH = 12;

export const ID_PREFIX = {
  room: 'RM_',
  participant: 'PA_',
  track: 'TR_',
  egress: 'EG_',
  ingress: 'IN_',
  /** An RTMP ingress session (`IngressState.resourceId`, protoutils.RTMPResourcePrefix). */
  rtmpResource: 'RT_',
  event: 'EV_',
  /** livekit/protocol `utils/guid/id.go` AgentJobPrefix, AgentDispatchPrefix, AgentWorkerPrefix. */
  agentJob: 'AJ_',
  agentDispatch: 'AD_',
  agentWorker: 'AW_',
} as const;

export type IdKind = keyof typeof ID_PREFIX;

/** mulberry32: tiny, fast and good enough to make fault injection and ids reproducible. */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function newGuid(kind: IdKind, random: RandomSource = Math.random): string {
  let id: string = ID_PREFIX[kind];
  for (let i = 0; i < GUID_LENGTH; i += 1) id += ALPHABET[Math.floor(random() * ALPHABET.length)];
  return id;
}
