import { createServer, IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer } from '../simulator/listen';

/**
 * A webhook endpoint's bad day, between LiveKit (the simulator) and a receiver: an outage that can
 * be switched on and off (every request answered 503, as a load balancer with no healthy target
 * does), and rules that make given events fail every attempt (so LiveKit exhausts its retries and
 * drops them, as in report 2's lost `egress_ended`). Everything else is forwarded untouched.
 */
export interface FaultProxyProps {
  /** The receiver's webhook URL; may also be set after start (`upstream`). */
  readonly upstream?: string;
}

export type EventRule = (event: { readonly id: string; readonly event: string }) => boolean;

export class FaultProxy {
  private server: Server | undefined;
  private down = false;
  private readonly failing: EventRule[] = [];
  /** Requests answered 503 by the outage or a rule. */
  refused = 0;
  /** Where requests are forwarded. */
  upstream: string | undefined;

  constructor(props: FaultProxyProps = {}) {
    this.upstream = props.upstream;
  }

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      this.handle(request)
        .then(({ status, body }) => response.writeHead(status, { 'content-type': 'application/json' }).end(body))
        .catch(() => response.writeHead(502).end());
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/webhook`;
  }

  /** Starts (true) or ends (false) an outage of the receiver. */
  setOutage(down: boolean): void {
    this.down = down;
  }

  /** Every attempt to deliver an event matching `rule` fails with 503 from now on. */
  failEvents(rule: EventRule): void {
    this.failing.push(rule);
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await closeServer(server);
  }

  private async handle(request: IncomingMessage): Promise<{ status: number; body: string }> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    if (this.down || this.matches(body)) {
      this.refused++;
      return { status: 503, body: '{"message":"Service Unavailable"}' };
    }
    if (!this.upstream) return { status: 503, body: '{"message":"no upstream yet"}' };
    const upstream = await fetch(this.upstream, {
      method: 'POST',
      headers: {
        'content-type': String(request.headers['content-type'] ?? 'application/webhook+json'),
        authorization: String(request.headers.authorization ?? ''),
        'user-agent': String(request.headers['user-agent'] ?? ''),
      },
      body,
    });
    return { status: upstream.status, body: await upstream.text() };
  }

  private matches(body: Buffer): boolean {
    if (this.failing.length === 0) return false;
    try {
      const event = JSON.parse(body.toString('utf8')) as { id: string; event: string };
      return this.failing.some((rule) => rule(event));
    } catch {
      return false;
    }
  }
}
