/**
 * Twirp's wire conventions as livekit-server serves them (twitchtv/twirp v8): errors are JSON
 * `{"code","msg"[,"meta"]}` with `Content-Type: application/json` and a status derived from the code.
 * livekit-server-sdk's `toTwirpError` only parses the body when the content type is exactly
 * `application/json`, so that header must not carry a charset.
 */
import type { ServerResponse } from 'node:http';

export type TwirpErrorCode =
  | 'canceled'
  | 'unknown'
  | 'invalid_argument'
  | 'malformed'
  | 'deadline_exceeded'
  | 'not_found'
  | 'bad_route'
  | 'already_exists'
  | 'permission_denied'
  | 'unauthenticated'
  | 'resource_exhausted'
  | 'failed_precondition'
  | 'aborted'
  | 'out_of_range'
  | 'unimplemented'
  | 'internal'
  | 'unavailable'
  | 'dataloss';

export const TWIRP_HTTP_STATUS: Record<TwirpErrorCode, number> = {
  canceled: 408,
  unknown: 500,
  invalid_argument: 400,
  malformed: 400,
  deadline_exceeded: 408,
  not_found: 404,
  bad_route: 404,
  already_exists: 409,
  permission_denied: 403,
  unauthenticated: 401,
  resource_exhausted: 429,
  failed_precondition: 412,
  aborted: 409,
  out_of_range: 400,
  unimplemented: 501,
  internal: 500,
  unavailable: 503,
  dataloss: 500,
};

/** The Twirp code a plain HTTP status maps back to (twirp's `ServerHTTPStatusFromErrorCode` inverse). */
export function twirpCodeForStatus(status: number): TwirpErrorCode {
  switch (status) {
    case 400:
      return 'invalid_argument';
    case 401:
      return 'unauthenticated';
    case 403:
      return 'permission_denied';
    case 404:
      return 'not_found';
    case 408:
      return 'deadline_exceeded';
    case 409:
      return 'already_exists';
    case 412:
      return 'failed_precondition';
    case 429:
      return 'resource_exhausted';
    case 501:
      return 'unimplemented';
    case 503:
      return 'unavailable';
    default:
      return status >= 500 ? 'internal' : 'unknown';
  }
}

export class TwirpError extends Error {
  readonly status: number;

  constructor(
    readonly code: TwirpErrorCode,
    readonly msg: string,
    readonly meta?: Readonly<Record<string, string>>,
    status?: number,
  ) {
    super(`${code}: ${msg}`);
    this.name = 'TwirpError';
    this.status = status ?? TWIRP_HTTP_STATUS[code];
  }
}

export function writeTwirpError(res: ServerResponse, error: TwirpError, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ code: error.code, msg: error.msg, ...(error.meta ? { meta: error.meta } : {}) });
  res.writeHead(error.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

export function writeTwirpJson(res: ServerResponse, json: unknown): void {
  const body = JSON.stringify(json);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** livekit-server's auth middleware answers token problems with plain text, before Twirp sees the call. */
export function writePlainError(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(message) });
  res.end(message);
}
