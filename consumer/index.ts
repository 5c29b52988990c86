/**
 * The consumer kit (`livekit-webhook-pipeline/consumer`): what the code that consumes the change
 * feed and reads the state needs, without the CDK. Guide: docs/consuming.md.
 *
 * - the change event types and guards, and the JSON Schema of the detail (`CHANGE_DETAIL_SCHEMA`,
 *   also shipped as `consumer/change-event.schema.json`);
 * - `LiveKitStateClient`: typed queries of the state table;
 * - `ChangeDeduper`: handle each change once (dedupe on `changeId`), with an in-memory or a
 *   DynamoDB store.
 *
 * The state client and the DynamoDB store use the AWS SDK v3 DynamoDB clients (optional peer
 * dependencies; Lambda's Node.js runtimes include them). Code that needs neither imports
 * `livekit-webhook-pipeline/consumer/events`, which loads no SDK.
 */
export * from './events';
export { DynamoDbDedupeStore, type DynamoDbDedupeStoreOptions } from './dynamodb-dedupe-store';
export { LiveKitStateClient, type LiveKitStateClientOptions, type RoomSelector } from './state-client';
