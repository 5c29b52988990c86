import { InvokeCommand, LambdaClient, ResourceNotFoundException } from '@aws-sdk/client-lambda';
import { LambdaInvokeApi, startLambdaInvokeApi } from '../../../local/lambda-invoke-api';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../local/local-aws';

/*
 * The local runtime's Lambda Invoke API, through the real `@aws-sdk/client-lambda` with only its
 * endpoint changed: the handler's result as the payload, a thrown error as Lambda reports one
 * (200, FunctionError Unhandled), an unknown function as ResourceNotFoundException.
 */
let api: LambdaInvokeApi;
let lambda: LambdaClient;
const seen: unknown[] = [];

beforeAll(async () => {
  api = await startLambdaInvokeApi({
    echo: async (event) => {
      seen.push(event);
      return { batchItemFailures: [] };
    },
    broken: async () => {
      throw Object.assign(new Error('bus unavailable'), { name: 'InternalException' });
    },
  });
  lambda = new LambdaClient({ endpoint: api.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
});

afterAll(async () => {
  lambda?.destroy();
  await api?.stop();
});

const payload = (text: string) => Buffer.from(text);

test('answers a RequestResponse invocation with the handler result', async () => {
  const output = await lambda.send(new InvokeCommand({ FunctionName: 'echo', Payload: payload('{"Records":[{"eventID":"1"}]}') }));
  expect(output.StatusCode).toBe(200);
  expect(output.FunctionError).toBeUndefined();
  expect(JSON.parse(Buffer.from(output.Payload!).toString('utf8'))).toEqual({ batchItemFailures: [] });
  expect(seen).toEqual([{ Records: [{ eventID: '1' }] }]);
});

test('takes the function by ARN too', async () => {
  const output = await lambda.send(
    new InvokeCommand({ FunctionName: `arn:aws:lambda:${LOCAL_REGION}:000000000000:function:echo`, Payload: payload('{}') }),
  );
  expect(output.StatusCode).toBe(200);
});

test('a handler that throws is a function error, as Lambda reports it', async () => {
  const output = await lambda.send(new InvokeCommand({ FunctionName: 'broken', Payload: payload('{}') }));
  expect(output.StatusCode).toBe(200);
  expect(output.FunctionError).toBe('Unhandled');
  expect(JSON.parse(Buffer.from(output.Payload!).toString('utf8'))).toMatchObject({
    errorType: 'InternalException',
    errorMessage: 'bus unavailable',
  });
});

test('an unknown function is ResourceNotFoundException; an asynchronous invocation is refused', async () => {
  await expect(lambda.send(new InvokeCommand({ FunctionName: 'nope', Payload: payload('{}') }))).rejects.toBeInstanceOf(
    ResourceNotFoundException,
  );
  await expect(
    lambda.send(new InvokeCommand({ FunctionName: 'echo', InvocationType: 'Event', Payload: payload('{}') })),
  ).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
});

test('a payload over 6 MB is refused and its connection closed, so the next invocation goes through', async () => {
  // The client's keep-alive connection would otherwise still hold the refused payload's unread rest.
  await expect(
    lambda.send(new InvokeCommand({ FunctionName: 'echo', Payload: Buffer.alloc(7 * 1024 * 1024, ' ') }), { requestTimeout: 3_000 }),
  ).rejects.toMatchObject({ name: 'RequestTooLargeException' });
  const output = await lambda.send(new InvokeCommand({ FunctionName: 'echo', Payload: payload('{}') }), { requestTimeout: 3_000 });
  expect(output.StatusCode).toBe(200);
});
