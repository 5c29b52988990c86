import { synthPipeline } from '../../support/synth';

/*
 * What `npm run publisher:redrive -- --stack` reads (scripts/oncall/target.ts): the publisher's
 * DLQ, where its event source sends the invocation record of each stream batch it gave up on, and
 * the publisher function it invokes with the records read back from the stream.
 */
describe('PipelineStack outputs for the publisher DLQ redrive', () => {
  const { stack, template } = synthPipeline();
  const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;

  it('PublisherDeadLetterQueueUrl is the URL of the queue the publisher stream event source sends batches it gave up on to', () => {
    const { processing } = stack;
    expect(outputs.PublisherDeadLetterQueueUrl?.Value).toEqual(stack.resolve(processing.publisherDeadLetterQueue.queueUrl));
    const mappings = template.findResources('AWS::Lambda::EventSourceMapping', {
      Properties: { FunctionName: stack.resolve(processing.publisherFunction.functionName) },
    });
    const [mapping] = Object.values(mappings) as { Properties: { DestinationConfig: { OnFailure: { Destination: unknown } } } }[];
    expect(mapping.Properties.DestinationConfig.OnFailure.Destination).toEqual(stack.resolve(processing.publisherDeadLetterQueue.queueArn));
  });

  it('PublisherFunctionName is the publisher function', () => {
    expect(outputs.PublisherFunctionName?.Value).toEqual(stack.resolve(stack.processing.publisherFunction.functionName));
  });
});
