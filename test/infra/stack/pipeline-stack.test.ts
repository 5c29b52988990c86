import { CfnElement } from 'aws-cdk-lib';
import { IFunction } from 'aws-cdk-lib/aws-lambda';
import { synthPipeline } from '../../support/synth';

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
    expect(actions).toEqual(expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage']));
    // Exactly the table operation it makes (one conditional put per event); the bus is the publisher's.
    expect(actions.filter((a) => a.startsWith('dynamodb:') || a.startsWith('events:')).sort()).toEqual(['dynamodb:PutItem']);
  });

  it('the publisher reads the stream and puts on the bus, and cannot write the table, read the secret or send to the event queue', () => {
    const actions = actionsOf(stack.processing.publisherFunction);
    expect(actions).toEqual(expect.arrayContaining(['events:PutEvents', 'dynamodb:GetRecords']));
    expect(actions.filter((a) => a.startsWith('secretsmanager:') || /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(a))).toEqual([]);
  });

  it('outputs the state table and the bus for consumers', () => {
    expect(Object.keys(template.toJSON().Outputs)).toEqual(expect.arrayContaining(['StateTableName', 'EventBusName']));
  });
});
