/**
 * The contracts every part of the pipeline shares, and that consumers may rely on: the state
 * table's key schema, the change event on the bus, the queue message between enqueuers and the
 * processor, and the metric names. Plain data and types: no CDK or SDK import (of Node, only
 * `node:crypto`, for the SHA-256 key of an over-long event id), so the CDK construct (lib/), the
 * functions (lambda/), the local runtime (local/), the tooling (scripts/) and consumers all load it
 * cheaply.
 *
 * Public interfaces, versioned: the key schema (`TABLE_SCHEMA_VERSION`) and the change event
 * (`CHANGE_EVENT_VERSION`); see docs/state-model.md.
 */
export * from './change-event';
export * from './metrics';
export * from './queue-message';
export * from './table-schema';
