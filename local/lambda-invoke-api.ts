/**
 * Lambda's Invoke API for the local functions that can be invoked directly (the publisher), on a
 * port of its own: `POST /2015-03-31/functions/<name>/invocations`, so `@aws-sdk/client-lambda`'s
 * `InvokeCommand` with `endpoint` set works unchanged (npm run publisher:redrive --local).
 *
 * As Lambda answers a synchronous (`RequestResponse`) invocation: 200 with the handler's result as
 * the body; a handler that throws is still 200, with `X-Amz-Function-Error: Unhandled` and the
 * error as `{errorType, errorMessage}`; an unknown function is 404 `ResourceNotFoundException`.
 * Other invocation types (`Event`, `DryRun`) are refused: nothing here needs them.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer } from '../simulator/listen';
import { CLOSE_CONNECTION, readBody } from './front-door';

/** A function's handler: the event (parsed JSON) in, its result out. */
export type InvokeHandler = (event: unknown) => Promise<unknown>;

export interface LambdaInvokeApi {
  /** `http://127.0.0.1:<port>`: the `endpoint` of a LambdaClient. */
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** Lambda's limit on a synchronous invocation's payload. */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

function sendError(response: ServerResponse, status: number, type: string, message: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type, ...headers });
  response.end(JSON.stringify({ Type: 'User', message }));
}

/** The function name from a path segment: a name, a partial ARN or a full ARN, as Lambda accepts. */
function functionNameOf(segment: string): string {
  const decoded = decodeURIComponent(segment);
  const match = /(?:^|:function:)([A-Za-z0-9_-]+)(?::[^:]+)?$/.exec(decoded);
  return match ? match[1] : decoded;
}

async function serve(
  functions: Readonly<Record<string, InvokeHandler>>,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const match = request.method === 'POST' ? INVOKE_PATH.exec(url.pathname) : null;
  if (!match) {
    for await (const _chunk of request) {
      // Discard: not an Invoke request.
    }
    return sendError(response, 404, 'UnknownOperationException', `${request.method} ${url.pathname} is not Lambda's Invoke API`);
  }
  const name = functionNameOf(match[1]);
  const body = await readBody(request, MAX_PAYLOAD_BYTES);
  if (body === undefined)
    return sendError(
      response,
      413,
      'RequestTooLargeException',
      `Request must be smaller than ${MAX_PAYLOAD_BYTES} bytes`,
      CLOSE_CONNECTION,
    );
  const handler = Object.hasOwn(functions, name) ? functions[name] : undefined;
  if (!handler) return sendError(response, 404, 'ResourceNotFoundException', `Function not found: ${name}`);
  const type = String(request.headers['x-amz-invocation-type'] ?? 'RequestResponse');
  if (type !== 'RequestResponse')
    return sendError(
      response,
      400,
      'InvalidParameterValueException',
      `the local runtime serves RequestResponse invocations only, not ${type}`,
    );
  let event: unknown;
  try {
    event = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
  } catch {
    return sendError(response, 400, 'InvalidRequestContentException', 'Could not parse request body into json');
  }
  const headers = { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' };
  try {
    const result = await handler(event);
    response.writeHead(200, headers);
    response.end(result === undefined ? 'null' : JSON.stringify(result));
  } catch (error) {
    const err = error instanceof Error ? error : new Error(String(error));
    response.writeHead(200, { ...headers, 'x-amz-function-error': 'Unhandled' });
    response.end(JSON.stringify({ errorType: err.name, errorMessage: err.message, trace: (err.stack ?? '').split('\n') }));
  }
}

/** Starts serving `functions` (by name) on `port` (0 or absent: a free one) of 127.0.0.1. */
export async function startLambdaInvokeApi(functions: Readonly<Record<string, InvokeHandler>>, port = 0): Promise<LambdaInvokeApi> {
  const server: Server = createServer((request, response) => {
    serve(functions, request, response).catch((error) => {
      if (!response.headersSent) sendError(response, 500, 'ServiceException', error instanceof Error ? error.message : String(error));
      else response.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${address.port}`, stop: () => closeServer(server) };
}
