/**
 * The consumer kit (`livekit-webhook-pipeline/consumer`): what the code that consumes the change
 * feed and reads the state needs, without the CDK. Guide: docs/consuming.md.
 *
 * - the change event types and guards, and the JSON Schema of the detail (`CHANGE_DETAIL_SCHEMA`,
 *   also shipped as `consumer/change-event.schema.json`);
 * - `LiveKitStateClient`: typed queries of the state table;
 * - `ChangeDeduper`: handle each change once (dedupe on `changeId`), with an in-memory or a
 *   DynamoDB store.
 */
import changeDetailSchema from './change-event.schema.json';

export * from './change-event';
export * from './dedupe';
export { DynamoDbDedupeStore, type DynamoDbDedupeStoreOptions } from './dynamodb-dedupe-store';
export { LiveKitStateClient, type LiveKitStateClientOptions, type RoomSelector } from './state-client';
/** The state table's key schema and key builders: a public interface (docs/state-model.md, "Key schema"). */
export { TABLE_SCHEMA, keys } from '../contracts/table-schema';

/** The JSON Schema (draft-07) of a change event's `detail`. */
export const CHANGE_DETAIL_SCHEMA: Readonly<Record<string, unknown>> = changeDetailSchema;
