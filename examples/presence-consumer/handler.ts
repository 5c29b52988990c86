/**
 * Example consumer: a Lambda handler, the target of an `onChange` rule (./stack.ts), that keeps a
 * presence cache (room name -> participants present) from the change feed. Run it locally with
 *
 *     CHANGE_HANDLER=./examples/presence-consumer/handler.ts npm run local
 *
 * Each change is applied once: repeats (same `changeId`) are skipped by the consumer kit's
 * `ChangeDeduper`. The cache and the dedupe store live in this container's memory, which is
 * enough for an example (and for a cache each container rebuilds); a consumer whose effects must
 * happen once across containers gives the deduper a `DynamoDbDedupeStore` (docs/consuming.md).
 */
import { ChangeDeduper, isChangeEvent } from '../../consumer';
import { PresenceCache } from './presence-cache';

/** The cache this container keeps. */
export const presence = new PresenceCache();
const deduper = new ChangeDeduper();

export async function handler(event: unknown): Promise<void> {
  if (!isChangeEvent(event)) {
    // Not ours (a rule matching too much): retrying cannot help, so say so and return.
    console.warn(
      JSON.stringify({
        level: 'warn',
        message: 'not a change event; ignored',
        detailType: (event as { 'detail-type'?: unknown })?.['detail-type'],
      }),
    );
    return;
  }
  const applied = await deduper.once(event, () => presence.apply(event));
  if (!applied) console.info(JSON.stringify({ level: 'info', message: 'repeated change skipped', changeId: event.detail.changeId }));
}
