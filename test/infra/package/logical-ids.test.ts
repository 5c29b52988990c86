import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { synthPipeline } from '../../support/synth';

/*
 * Updating a stack deployed by PipelineStack 0.1 (before the construct existed) must replace no
 * stateful resource: CloudFormation replaces a resource whose logical id changes, and a replaced
 * table, queue, secret or bus loses its data (and a replaced stream mapping republishes a day of
 * changes). The fixture holds the stateful resources' logical ids
 * of PipelineStack 0.1, captured from its synthesised template before the refactor.
 */
const STATEFUL = new Set<string>([
  'AWS::DynamoDB::Table',
  'AWS::SQS::Queue',
  'AWS::SecretsManager::Secret',
  'AWS::Events::EventBus',
  'AWS::Events::Archive',
  'AWS::KMS::Key',
  'AWS::SNS::Topic',
  'AWS::SNS::Subscription',
  'AWS::Logs::LogGroup',
  // Not data, but a position: a replaced stream mapping starts again at TRIM_HORIZON and republishes up to 24 h of changes.
  'AWS::Lambda::EventSourceMapping',
]);
const before = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'pipeline-stack-0.1.0-stateful-ids.json'), 'utf8')) as Record<
  string,
  Record<string, string>
>;

function statefulIds(template: { Resources: Record<string, { Type: string }> }): Record<string, string> {
  const ids = Object.entries(template.Resources).filter(([, resource]) => STATEFUL.has(resource.Type));
  return Object.fromEntries(ids.map(([id, resource]) => [id, resource.Type]).sort(([a], [b]) => a.localeCompare(b)));
}

describe('PipelineStack on the construct keeps the logical ids of PipelineStack 0.1', () => {
  it.each([
    ['default', {}],
    ['email', { alarms: { email: 'oncall@example.com' } }],
  ])('every stateful resource (%s config)', (name, input) => {
    const { template } = synthPipeline(input);
    expect(statefulIds(template.toJSON() as never)).toEqual(before[name]);
  });
});
