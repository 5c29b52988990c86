import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { closeServer } from '../simulator/listen';

/**
 * A local stand-in for the HTTP API in front of the ingest Lambda: it turns each request into the
 * payload v2 event API Gateway builds (lowercased headers, base64 bodies for content types API
 * Gateway does not treat as text, route key, request context) and maps the result back. Like the
 * deployed API it routes only `POST /webhook`; anything else gets API Gateway's own 404. Extra
 * GET routes (a status page) can be mounted beside it.
 */

export type LambdaHttpHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;
/** What a local GET route sees of the request: plain data, so the route may run on another thread. */
export interface LocalRouteRequest {
  readonly method: string;
  /** Path and query, as received. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
}
export interface LocalRouteResult {
  readonly statusCode: number;
  readonly contentType: string;
  readonly body: string;
}
export type LocalRoute = (request: LocalRouteRequest) => Promise<LocalRouteResult>;

export interface FrontDoorProps {
  readonly handler: LambdaHttpHandler;
  readonly port?: number;
  readonly host?: string;
  /** Extra `GET` routes served by the front door itself (not part of the deployed API). */
  readonly getRoutes?: Readonly<Record<string, LocalRoute>>;
}

/** API Gateway's payload limit for HTTP APIs. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
const ROUTE_KEY = 'POST /webhook';

/**
 * The header of an answer sent before the request's body was read to its end (a 413): Node closes
 * the connection once the answer is sent, as a proxy does when it refuses a body. Kept open, the
 * connection still holds the unread rest of the body ahead of a keep-alive client's next request,
 * which then hangs until the keep-alive timeout and fails with ECONNRESET.
 */
export const CLOSE_CONNECTION = { connection: 'close' } as const;

/** Content types HTTP APIs pass as text; every other body reaches Lambda base64-encoded. */
export function isTextContentType(contentType: string | undefined): boolean {
  if (!contentType) return true;
  const type = contentType.split(';')[0].trim().toLowerCase();
  return (
    type.startsWith('text/') ||
    ['application/json', 'application/javascript', 'application/xml', 'application/x-www-form-urlencoded'].includes(type)
  );
}

export class FrontDoor {
  private server: Server | undefined;

  constructor(private readonly props: FrontDoorProps) {}

  /** Starts listening; resolves with the base URL (`http://127.0.0.1:<port>`). */
  async start(): Promise<string> {
    const server = createServer((request, response) => {
      this.serve(request, response).catch((error) => {
        if (!response.headersSent) response.writeHead(500, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ message: 'Internal Server Error' }));
        process.stderr.write(`front door: ${error instanceof Error ? error.stack : String(error)}\n`);
      });
    });
    // LiveKit reuses connections; keep them open like API Gateway does.
    server.keepAliveTimeout = 60_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.props.port ?? 0, this.props.host ?? '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return `http://${this.props.host ?? '127.0.0.1'}:${port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await closeServer(server);
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const extra = request.method === 'GET' ? this.props.getRoutes?.[url.pathname] : undefined;
    if (extra) {
      const result = await extra({ method: 'GET', url: request.url ?? '/', headers: lowercaseHeaders(request) });
      response.writeHead(result.statusCode, { 'content-type': result.contentType });
      response.end(result.body);
      return;
    }
    if (`${request.method} ${url.pathname}` !== ROUTE_KEY) {
      await drain(request);
      return send(response, { statusCode: 404, headers: { 'content-type': 'application/json' }, body: '{"message":"Not Found"}' });
    }
    const body = await readBody(request, MAX_PAYLOAD_BYTES);
    if (body === undefined) {
      return send(response, {
        statusCode: 413,
        headers: { 'content-type': 'application/json', ...CLOSE_CONNECTION },
        body: '{"message":"Request Entity Too Large"}',
      });
    }
    const result = await this.props.handler(toApiGatewayEvent(request, url, body));
    send(response, result);
  }
}

/**
 * The headers as API Gateway's payload v2 passes them: names lowercased, and a header sent more
 * than once joined into one value with commas ("Duplicate headers are combined with commas",
 * AWS API Gateway developer guide, HTTP API Lambda integrations). Read from the raw headers, because
 * Node keeps only the first of some duplicates (`authorization`, `content-type`, ...): a request
 * with two `Authorization` headers must fail verification here as it does behind API Gateway.
 */
export function lowercaseHeaders(request: Pick<IncomingMessage, 'rawHeaders'>): Record<string, string> {
  const headers = new Map<string, string>();
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    const before = headers.get(name);
    headers.set(name, before === undefined ? raw[i + 1] : `${before},${raw[i + 1]}`);
  }
  return Object.fromEntries(headers);
}

export function toApiGatewayEvent(request: IncomingMessage, url: URL, body: Buffer): APIGatewayProxyEventV2 {
  const headers = lowercaseHeaders(request);
  const text = isTextContentType(headers['content-type']);
  const now = new Date();
  return {
    version: '2.0',
    routeKey: ROUTE_KEY,
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method: request.method ?? 'POST',
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: ROUTE_KEY,
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    body: body.length === 0 ? undefined : text ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: body.length > 0 && !text,
  };
}

/**
 * A request's whole body, or undefined once it passes `maxBytes`: the caller answers 413 with
 * `CLOSE_CONNECTION`, since the rest of the body is left unread on the connection.
 */
export async function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function drain(request: IncomingMessage): Promise<void> {
  for await (const _chunk of request) {
    // Discard: the route does not exist.
  }
}

function send(response: ServerResponse, result: APIGatewayProxyStructuredResultV2): void {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  const body = result.body === undefined ? '' : result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body;
  response.writeHead(result.statusCode ?? 200, headers);
  response.end(body);
}
