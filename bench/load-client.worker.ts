/**
 * The bench's LiveKit stand-in, on a thread of its own (see load-client.ts): sends signed webhooks
 * open loop and, on request, watches DynamoDB Local for the state item each event creates.
 */
import { Agent } from 'node:http';
import { BatchGetItemCommand } from '@aws-sdk/client-dynamodb';
import { localDynamoDbClient } from '../local/functions/clients';
import { runFunctionWorker } from '../local/functions/worker-runtime';
import { SendRequest, SendResult, STATE_POLL_MS_DEFAULT as STATE_POLL_MS } from './load-client';
import type { SignedEvent } from './open-loop';
import { openLoop } from './open-loop';

const epochNow = () => performance.timeOrigin + performance.now();
/** One keep-alive pool for the client's life, as LiveKit's Go client reuses its connections. */
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

/** State polls in flight at once: a new one starts every STATE_POLL_MS while fewer are out, so a slow read does not coarsen the timing. */
const MAX_POLLS_IN_FLIGHT = 3;

runFunctionWorker<Record<string, never>, void>(async () => ({
  ready: undefined,
  handlers: {
    async send(value): Promise<SendResult> {
      const { url, events, rate, watchState } = value as SendRequest;
      const visibleAt = new Map<string, number>();
      const roundTrips: number[] = [];
      let watching: Promise<void> = Promise.resolve();
      let sendingDone = false;
      if (watchState) {
        const ddb = localDynamoDbClient(watchState.dynamodbEndpoint);
        const started = performance.now();
        let inFlight = 0;
        const poll = async (chunk: readonly SignedEvent[]) => {
          const sentAt = performance.now();
          const output = await ddb.send(
            new BatchGetItemCommand({
              RequestItems: {
                [watchState.tableName]: {
                  Keys: chunk.map((event) => ({ pk: { S: event.stateKey!.pk }, sk: { S: event.stateKey!.sk } })),
                  ConsistentRead: true,
                  ProjectionExpression: 'pk',
                },
              },
            }),
          );
          // The answer's arrival: an upper bound of when the item became visible.
          const seenAt = epochNow();
          roundTrips.push(performance.now() - sentAt);
          const seenPks = new Set((output.Responses?.[watchState.tableName] ?? []).map((item) => item.pk?.S));
          for (const event of chunk) if (seenPks.has(event.stateKey!.pk) && !visibleAt.has(event.id)) visibleAt.set(event.id, seenAt);
        };
        watching = (async () => {
          let doneAt: number | undefined;
          const polls = new Set<Promise<void>>();
          for (;;) {
            // Only events already due can have landed; their keys are polled until seen.
            const due = Math.min(events.length, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
            const pending = events.slice(0, due).filter((event) => event.stateKey && !visibleAt.has(event.id));
            if (sendingDone && pending.length === 0 && due === events.length) break;
            if (sendingDone) doneAt ??= performance.now();
            if (doneAt !== undefined && performance.now() - doneAt > watchState.timeoutMs) break;
            if (inFlight < MAX_POLLS_IN_FLIGHT && pending.length > 0) {
              inFlight++;
              const running = (async () => {
                for (let start = 0; start < pending.length; start += 100) await poll(pending.slice(start, start + 100));
              })().finally(() => {
                inFlight--;
                polls.delete(running);
              });
              polls.add(running);
            }
            await new Promise((resolve) => setTimeout(resolve, STATE_POLL_MS));
          }
          await Promise.all(polls);
          ddb.destroy();
        })();
      }
      const sent = await openLoop(url, events, rate, agent);
      sendingDone = true;
      await watching;
      return {
        results: sent.map((result) => ({ ...result, stateVisibleAtEpochMs: visibleAt.get(result.id) })),
        statePollRoundTripsMs: roundTrips,
      };
    },
  },
  stop: async () => agent.destroy(),
}));
