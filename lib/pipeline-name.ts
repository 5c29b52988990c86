import { Stack } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * The pipeline's name: its alarm name prefix (`alarms.namePrefix`, default the stack name). It is
 * the `Pipeline` dimension of every custom metric (contracts/metrics.ts): the functions get it as
 * PIPELINE_NAME, the ingest's access log writes it as a literal field, and the alarms, dashboard
 * and metric helpers read each metric under it. So staging and prod in one region, or two
 * pipelines in one stack, never read each other's metrics.
 *
 * Unique per account and region because alarm names are (CloudWatch refuses a second alarm of a
 * name; synth refuses two pipelines of one stack with one prefix, Monitoring.alarmNameCollisions),
 * and as stable as the alarm names: changing it renames the alarms and starts the metrics afresh.
 */
export function pipelineNameOf(scope: IConstruct, namePrefix?: string): string {
  return namePrefix ?? Stack.of(scope).stackName;
}
