import { Agent, request } from 'node:http';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { FrontDoor, lowercaseHeaders } from '../../../local/front-door';

/*
 * The local front door passes headers as API Gateway's payload v2 does: lowercased, duplicates
 * joined with commas. Node itself keeps only the first `Authorization` of a request that sends two,
 * which made a request locally accepted that API Gateway would pass on as one joined, unverifiable value.
 */
describe('lowercaseHeaders', () => {
  it('lowercases names and joins duplicates with commas, in order', () => {
    expect(
      lowercaseHeaders({ rawHeaders: ['Authorization', 'first', 'Content-Type', 'application/json', 'authorization', 'second'] }),
    ).toEqual({ authorization: 'first,second', 'content-type': 'application/json' });
  });

  it('takes a header named __proto__ as a plain header', () => {
    const headers = lowercaseHeaders({ rawHeaders: ['__proto__', 'x'] });
    expect(Object.getPrototypeOf(headers)).toBe(Object.prototype);
    expect(Object.entries(headers)).toEqual([['__proto__', 'x']]);
  });
});

describe('FrontDoor', () => {
  it('hands the ingest function both Authorization values of a request that sends two, joined as API Gateway joins them', async () => {
    const seen: APIGatewayProxyEventV2[] = [];
    const door = new FrontDoor({
      port: 0,
      handler: async (event) => {
        seen.push(event);
        return { statusCode: 200, body: '{}' };
      },
    });
    const base = await door.start();
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(`${base}/webhook`, {
          method: 'POST',
          // An array of name/value pairs sends every header as given, duplicates included (and no Host of its own).
          headers: [
            'host',
            new URL(base).host,
            'content-type',
            'application/webhook+json',
            'Authorization',
            'token-a',
            'authorization',
            'token-b',
          ],
        });
        req.on('response', (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end('{}');
      });
      expect(status).toBe(200);
      expect(seen).toHaveLength(1);
      expect(seen[0].headers.authorization).toBe('token-a,token-b');
    } finally {
      await door.stop();
    }
  });

  /*
   * A body over API Gateway's 10 MiB is refused unread. Left on a keep-alive connection, the
   * unread rest was taken for the client's next request, which hung until the keep-alive timeout
   * (about 61 s) and then failed with ECONNRESET.
   */
  it("closes the connection of a request it answers 413, so a keep-alive client's next request goes through on a new one", async () => {
    const door = new FrontDoor({ port: 0, handler: async () => ({ statusCode: 200, body: '{}' }) });
    const base = await door.start();
    // One socket at most: the second request reuses the first one's connection if it is left open.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const post = (bytes: number) =>
      new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
        const req = request(`${base}/webhook`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } });
        req.setTimeout(3_000, () => req.destroy(new Error(`no answer to a ${bytes}-byte request in 3 s`)));
        req.on('response', (response) => {
          response.resume();
          response.on('end', () => resolve({ status: response.statusCode ?? 0, connection: response.headers.connection }));
        });
        req.on('error', reject);
        req.end(Buffer.alloc(bytes, 'x'));
      });
    try {
      const refused = await post(11 * 1024 * 1024);
      const next = await post(1000);
      expect(refused).toEqual({ status: 413, connection: 'close' });
      expect(next).toEqual({ status: 200, connection: 'keep-alive' });
    } finally {
      agent.destroy();
      await door.stop();
    }
  });
});
