import { CfnElement } from 'aws-cdk-lib';
import { IFunction } from 'aws-cdk-lib/aws-lambda';
import { synthPipeline } from './support/synth';

/** Least privilege across constructs: what each function may do, read from the synthesised policies. */
describe('PipelineStack grants', () => {
  const { stack, template } = synthPipeline();

  function actionsOf(fn: IFunction): string[] {
    const role = stack.getLogicalId(fn.role!.node.defaultChild as CfnElement);
    const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } });
    return Object.values(policies)
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement)
      .flatMap((s: any) => [].concat(s.Action));
  }

  it('ingest cannot touch the state table or the bus', () => {
    const actions = actionsOf(stack.ingest.function);
    expect(actions.filter((a) => a.startsWith('dynamodb:') || a.startsWith('events:'))).toEqual([]);
  });

  it('the processor cannot read the LiveKit secret or send to the queue', () => {
    const actions = actionsOf(stack.processing.function);
    expect(actions.filter((a) => a.startsWith('secretsmanager:') || a === 'sqs:SendMessage')).toEqual([]);
    expect(actions).toEqual(expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'events:PutEvents']));
    // Exactly the table operations it makes (transactions of Puts are authorized as PutItem).
    expect(actions.filter((a) => a.startsWith('dynamodb:')).sort()).toEqual(['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query']);
  });

  it('outputs the state table and the bus for consumers', () => {
    expect(Object.keys(template.toJSON().Outputs)).toEqual(expect.arrayContaining(['StateTableName', 'EventBusName']));
  });
});
