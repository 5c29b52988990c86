/**
 * Transport errors go-retryablehttp does not retry (hashicorp/go-retryablehttp client.go
 * `baseRetryPolicy`: "stopped after 10 redirects", invalid header, unsupported scheme, TLS
 * certificate verification), and redirects followed as Go's `http.Client` follows them. LiveKit
 * logs "failed to send webhook" and the event is lost (livekit/protocol
 * webhook/resource_url_notifier.go): the sender records it as dropped `not_retryable`, after one
 * attempt, and the queue moves on. Real HTTP(S) servers throughout.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Room, WebhookEvent } from '@livekit/protocol';
import { WebhookReceiver } from 'livekit-server-sdk';
import { WebhookSender, WebhookSenderOptions } from '../../../simulator/webhook-sender';

const API_KEY = 'APItest';
const API_SECRET = 'test-secret-that-is-long-enough-for-hs256';

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly body: string;
  readonly authorization?: string;
}

type Handler = (req: Seen, res: http.ServerResponse) => void;

/** A real server recording every request (method, path, body, Authorization), answering through `handler`. */
async function listen(
  server: http.Server | https.Server,
  handler: Handler,
): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request = {
        method: req.method ?? '',
        path: req.url ?? '',
        body: Buffer.concat(chunks).toString('utf8'),
        authorization: req.headers.authorization,
      };
      seen.push(request);
      handler(request, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  const scheme = server instanceof https.Server ? 'https' : 'http';
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function roomEvent(type: string, room: string): WebhookEvent {
  return new WebhookEvent({ event: type, room: new Room({ sid: `RM_${room}`, name: room }) });
}

describe('WebhookSender: transport errors and redirects as go-retryablehttp handles them', () => {
  const cleanup: Array<() => Promise<void>> = [];
  let sender: WebhookSender | undefined;

  function newSender(url: string, options: Partial<WebhookSenderOptions> = {}): WebhookSender {
    sender = new WebhookSender({ urls: [url], apiKey: API_KEY, apiSecret: API_SECRET, timeScale: 0.01, ...options });
    return sender;
  }

  afterEach(async () => {
    await sender?.stop();
    sender = undefined;
    for (const fn of cleanup.splice(0)) await fn();
  });

  it('a redirect loop is not retried: 10 requests (Go stops after 10 redirects), then the event is dropped not_retryable', async () => {
    const server = await listen(http.createServer(), (_req, res) => res.writeHead(307, { Location: '/webhook' }).end());
    cleanup.push(server.close);
    const s = newSender(`${server.url}/webhook`);
    const event = s.send(roomEvent('room_started', 'a'));
    const delivery = await s.settled(event.id);
    expect(delivery).toMatchObject({ outcome: 'dropped', dropReason: 'not_retryable' });
    expect(delivery.attempts).toHaveLength(1);
    expect(delivery.attempts[0].error).toMatch(/stopped after 10 redirects$/);
    expect(server.seen).toHaveLength(10);
    // 307 resends the same POST with the same body and token.
    expect(new Set(server.seen.map((r) => `${r.method} ${r.body === event.body} ${r.authorization === delivery.token}`))).toEqual(
      new Set(['POST true true']),
    );
    expect(s.stats()).toMatchObject({ delivered: 0, dropped: 1, dropReasons: { not_retryable: 1, retries_exhausted: 0 } });
  });

  it('a 308 to the real endpoint delivers the signed body there', async () => {
    const server = await listen(http.createServer(), (req, res) =>
      req.path === '/old' ? res.writeHead(308, { Location: '/webhook' }).end() : res.writeHead(200).end(),
    );
    cleanup.push(server.close);
    const s = newSender(`${server.url}/old`);
    const event = s.send(roomEvent('room_started', 'a'));
    expect(await s.settled(event.id)).toMatchObject({ outcome: 'delivered', status: 200 });
    const final = server.seen[1];
    expect(final).toMatchObject({ method: 'POST', path: '/webhook', body: event.body });
    await expect(new WebhookReceiver(API_KEY, API_SECRET).receive(final.body, final.authorization)).resolves.toMatchObject({
      event: 'room_started',
    });
  });

  it('a 302 is followed as a GET without body (Go redirectBehavior): whatever that GET answers is the result', async () => {
    const server = await listen(http.createServer(), (req, res) =>
      req.path === '/old' ? res.writeHead(302, { Location: '/landing' }).end() : res.writeHead(200).end(),
    );
    cleanup.push(server.close);
    const s = newSender(`${server.url}/old`);
    const event = s.send(roomEvent('room_started', 'a'));
    // LiveKit counts it as sent: the event never reached a POST handler.
    expect(await s.settled(event.id)).toMatchObject({ outcome: 'delivered', status: 200 });
    expect(server.seen.map((r) => `${r.method} ${r.path} ${r.body.length}`)).toEqual([`POST /old ${event.body.length}`, 'GET /landing 0']);
  });

  it('Authorization is not carried to another host on redirect', async () => {
    const other = await listen(http.createServer(), (_req, res) => res.writeHead(200).end());
    cleanup.push(other.close);
    // 127.0.0.1 → localhost: a different host name, as Go compares them.
    const target = other.url.replace('127.0.0.1', 'localhost');
    const server = await listen(http.createServer(), (_req, res) => res.writeHead(307, { Location: `${target}/webhook` }).end());
    cleanup.push(server.close);
    const s = newSender(`${server.url}/webhook`);
    const event = s.send(roomEvent('room_started', 'a'));
    expect(await s.settled(event.id)).toMatchObject({ outcome: 'delivered' });
    expect(server.seen[0].authorization).toBeDefined();
    expect(other.seen[0]).toMatchObject({ method: 'POST', body: event.body });
    expect(other.seen[0].authorization).toBeUndefined();
  });

  it('a redirect to an unsupported scheme is not retried', async () => {
    const server = await listen(http.createServer(), (_req, res) => res.writeHead(301, { Location: 'ftp://127.0.0.1/webhook' }).end());
    cleanup.push(server.close);
    const s = newSender(`${server.url}/webhook`);
    const delivery = await s.settled(s.send(roomEvent('room_started', 'a')).id);
    expect(delivery).toMatchObject({ outcome: 'dropped', dropReason: 'not_retryable' });
    expect(delivery.attempts[0].error).toMatch(/unsupported protocol scheme "ftp"/);
    expect(server.seen).toHaveLength(1);
  });

  it('an invalid header value is refused before sending and not retried', async () => {
    const server = await listen(http.createServer(), (_req, res) => res.writeHead(200).end());
    cleanup.push(server.close);
    const s = newSender(`${server.url}/webhook`, { userAgent: 'LiveKit\r\nX-Injected: 1' });
    const delivery = await s.settled(s.send(roomEvent('room_started', 'a')).id);
    expect(delivery).toMatchObject({ outcome: 'dropped', dropReason: 'not_retryable' });
    expect(delivery.attempts).toHaveLength(1);
    expect(server.seen).toHaveLength(0);
  });

  it('a TLS certificate from an unknown authority is not retried; the next event of the queue is still tried', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lk-tls-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const server = await listen(
      https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }),
      (_req, res) => res.writeHead(200).end(),
    );
    cleanup.push(server.close);
    const s = newSender(`${server.url}/webhook`);
    const first = s.send(roomEvent('room_started', 'a'));
    const second = s.send(roomEvent('participant_joined', 'a'));
    const delivery = await s.settled(first.id);
    expect(delivery).toMatchObject({ outcome: 'dropped', dropReason: 'not_retryable' });
    expect(delivery.attempts).toHaveLength(1);
    expect(delivery.attempts[0].error).toMatch(/self[- ]signed/i);
    expect(await s.settled(second.id)).toMatchObject({ outcome: 'dropped', dropReason: 'not_retryable' });
    expect(server.seen).toHaveLength(0); // the handshake never completed
  });

  it('a refused connection is still retried until retries are exhausted', async () => {
    const server = await listen(http.createServer(), (_req, res) => res.writeHead(200).end());
    const url = `${server.url}/webhook`;
    await server.close(); // nothing listens there any more
    const s = newSender(url, { maxRetries: 2 });
    const delivery = await s.settled(s.send(roomEvent('room_started', 'a')).id);
    expect(delivery).toMatchObject({ outcome: 'dropped', dropReason: 'retries_exhausted' });
    expect(delivery.attempts).toHaveLength(3);
  });
});
