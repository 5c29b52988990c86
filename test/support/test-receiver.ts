/**
 * A webhook endpoint for sender tests: records every request (raw bytes and headers) and answers
 * with whatever the test's `respond` function decides, including holding the answer back.
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ReceivedRequest {
  readonly index: number;
  readonly body: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly eventId: string;
  readonly event: string;
  readonly room?: string;
}

/** `'hang'` never answers; the client's timeout or `stop()` ends the request. */
export type Reply = { readonly status: number; readonly headers?: Record<string, string> } | 'hang';

export type Respond = (request: ReceivedRequest) => Reply | Promise<Reply>;

export class TestReceiver {
  readonly requests: ReceivedRequest[] = [];
  respond: Respond;
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private waiters: Array<{ predicate: (r: ReceivedRequest) => boolean; resolve: (r: ReceivedRequest) => void }> = [];
  private baseUrl?: string;

  constructor(respond: Respond = () => ({ status: 200 })) {
    this.respond = respond;
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/webhook`;
    return this.baseUrl;
  }

  get url(): string {
    return this.baseUrl!;
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** Resolves with the first request (already received or still to come) that matches. */
  waitFor(predicate: (r: ReceivedRequest) => boolean): Promise<ReceivedRequest> {
    const found = this.requests.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push({ predicate, resolve }));
  }

  eventIds(room?: string): string[] {
    return this.requests.filter((r) => room === undefined || r.room === room).map((r) => r.eventId);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const json = JSON.parse(body) as { id: string; event: string; room?: { name?: string } };
    const request: ReceivedRequest = {
      index: this.requests.length,
      body,
      headers: req.headers,
      eventId: json.id,
      event: json.event,
      room: json.room?.name,
    };
    this.requests.push(request);
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.predicate(request)) w.resolve(request);
      else still.push(w);
    }
    this.waiters = still;
    const reply = await this.respond(request);
    if (reply === 'hang' || res.destroyed) return;
    res.writeHead(reply.status, reply.headers).end();
  }
}

export interface Deferred {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
}

export function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
