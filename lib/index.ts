/**
 * The package's root export: the `LiveKitWebhookPipeline` construct, its props and option types,
 * the config parser the example app uses, and the shared contracts (key schema, change event,
 * metric names). The consumer kit is the `./consumer` subpath export.
 */
export { LiveKitWebhookPipeline, resolvePipelineConfig } from './pipeline';
export type { AlarmOptions, LiveKitWebhookPipelineProps, OnChangeOptions, PipelineFunctions } from './pipeline';
export { PipelineStack } from './pipeline-stack';
export type { PipelineStackProps } from './pipeline-stack';
export {
  CLEARTEXT_LIVEKIT_URL_WARNING,
  ConfigError,
  configInputFromContext,
  configWarnings,
  DEFAULT_CONFIG,
  DEFAULT_STACK_NAME,
  LIVEKIT_URL_REQUIRED,
  LIVEKIT_WEBHOOK_EVENT_TYPES,
  parseAppConfig,
  parseConfig,
  SYSTEM_LOG_LEVELS,
} from './config';
export type {
  AlarmConfig,
  AppConfig,
  ConfigInput,
  ConfigWarning,
  IngestConfig,
  LiveKitConfig,
  ParseOptions,
  PipelineConfig,
  ProcessingConfig,
  QueueConfig,
  ReconcileConfig,
  RemovalPolicyName,
  SystemLogLevelName,
} from './config';
export { ALARM_IDS } from './alarm-rules';
export type { AlarmId, AlarmRule, AlarmSeverity } from './alarm-rules';
export { ClaimChecks, claimCheckExpirationDays } from './claim-checks';
export { EventQueue } from './event-queue';
export { Ingest } from './ingest';
export { importSecret, LiveKitKeys } from './livekit-keys';
export { Monitoring } from './monitoring';
export { Processing, STATE_TABLE_LOGICAL_ID } from './processing';
export { Reconciler } from './reconciler';
export * from '../contracts';
