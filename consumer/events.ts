/**
 * The SDK-free part of the consumer kit (`livekit-webhook-pipeline/consumer/events`): the change
 * event types and guards, the JSON Schema of the detail, and `ChangeDeduper` with its in-memory
 * store. Nothing here loads the AWS SDK, so it works in any Node process or bundle; the state
 * client and the DynamoDB dedupe store are in `livekit-webhook-pipeline/consumer`, which needs the
 * AWS SDK v3 DynamoDB clients (present in Lambda's Node.js runtimes; an optional peer dependency).
 */
import changeDetailSchema from './change-event.schema.json';

export * from './change-event';
export * from './dedupe';
/** The state table's key schema and key builders: a public interface (docs/state-model.md, "Key schema"). */
export { TABLE_SCHEMA, keys } from '../contracts/table-schema';

/** The JSON Schema (draft-07) of a change event's `detail`. */
export const CHANGE_DETAIL_SCHEMA: Readonly<Record<string, unknown>> = changeDetailSchema;
