/**
 * The ingest function on its own thread: the front door (API Gateway's stand-in, with its HTTP
 * server) and the real ingest handler, with an SQS client of its own. GET routes that need the
 * main thread's data (`/status`) are forwarded to it by message. See ingest.ts.
 */
import { get } from 'node:http';
import { S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createIngestHandler } from '../../lambda/ingest/ingest-handler';
import { Logger } from '../../lambda/shared/logger';
import { signWebhook } from '../../simulator/signing';
import { localS3ClientConfig } from '../engines/sqs-emulator';
import { FrontDoor, LocalRoute, LocalRouteResult } from '../front-door';
import { localSqsClient } from './clients';
import type { IngestFunctionInit, IngestFunctionReady } from './ingest';
import { ROUTE_METHOD } from './ingest';
import { runFunctionWorker } from './worker-runtime';

runFunctionWorker<IngestFunctionInit, IngestFunctionReady>(async (init, host) => {
  const sqs = host.meter(localSqsClient(init.sqsEndpoint), 'SQS');
  // fauxqs serves S3 on the SQS port: the claim-check bucket's stand-in.
  const s3 = init.claimCheckBucket ? new S3Client(localS3ClientConfig(init.sqsEndpoint)) : undefined;
  const handler = createIngestHandler({
    sqs,
    queueUrl: init.queueUrl,
    ...(s3 && init.claimCheckBucket ? { claimChecks: { s3, bucket: init.claimCheckBucket } } : {}),
    loadKeys: async () => init.keysJson,
    keyCacheSeconds: init.keyCacheSeconds,
    maxBodyBytes: init.maxBodyBytes,
    clockToleranceSeconds: init.clockToleranceSeconds,
    logger: host.logger('ingest', init.logLevel),
  });
  await warmUp(init, sqs);
  const getRoutes: Record<string, LocalRoute> = {};
  for (const path of init.forwardedGetPaths) getRoutes[path] = (request) => host.call<LocalRouteResult>(ROUTE_METHOD, { path, request });
  const frontDoor = new FrontDoor({ handler, port: init.port, host: init.host, getRoutes });
  let baseUrl: string;
  try {
    baseUrl = await frontDoor.start();
  } catch (error) {
    sqs.destroy();
    s3?.destroy();
    throw error;
  }
  await warmUpFrontDoor(baseUrl);
  return {
    ready: { baseUrl },
    async stop() {
      await frontDoor.stop();
      sqs.destroy();
      s3?.destroy();
    },
  };
});

/**
 * The function's init phase, before it takes traffic. A fresh thread starts with cold code, and the
 * first webhooks would pay for the SDK's lazy set-up, the first JWT verification and the first
 * HTTP exchange: hundreds of ms on a loaded machine, enough for LiveKit's queue behind them to
 * age. So one webhook signed with a real key, as LiveKit signs it (simulator/signing.ts), goes
 * through a second handler whose queue does not exist (verified, then refused by SQS: nothing is
 * enqueued, nothing logged; a 401 would fail the start), and one request goes through the front
 * door to a route that does not exist.
 */
async function warmUp(init: IngestFunctionInit, sqs: SQSClient): Promise<void> {
  await sqs.send(new GetQueueAttributesCommand({ QueueUrl: init.queueUrl, AttributeNames: ['QueueArn'] }));
  const [apiKey, apiSecret] = Object.entries(JSON.parse(init.keysJson) as Record<string, string>)[0] ?? [];
  if (!apiKey) return;
  const nowhere = createIngestHandler({
    sqs,
    queueUrl: `${init.queueUrl}-warm-up-no-such-queue`,
    loadKeys: async () => init.keysJson,
    keyCacheSeconds: init.keyCacheSeconds,
    maxBodyBytes: init.maxBodyBytes,
    clockToleranceSeconds: init.clockToleranceSeconds,
    logger: new Logger({ service: 'ingest', level: 'error', sink: () => undefined }),
  });
  const body = JSON.stringify({
    id: 'EV_local_warm_up',
    event: 'room_started',
    room: { sid: 'RM_local_warm_up', name: 'local-warm-up' },
    createdAt: String(Math.floor(Date.now() / 1000)),
  });
  const now = new Date();
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: 'POST /webhook',
    rawPath: '/webhook',
    rawQueryString: '',
    headers: { authorization: await signWebhook(body, apiKey, apiSecret), 'content-type': 'application/webhook+json' },
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: 'localhost',
      domainPrefix: 'local',
      http: { method: 'POST', path: '/webhook', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'warm-up' },
      requestId: 'warm-up',
      routeKey: 'POST /webhook',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    body,
    isBase64Encoded: false,
  };
  const result = await nowhere(event);
  // 503: SQS refused the queue that does not exist, as intended; 200 if an emulator creates queues on first use.
  if (result.statusCode !== 503 && result.statusCode !== 200)
    throw new Error(`ingest warm-up answered ${result.statusCode}: ${result.body}`);
}

/** One request through the front door (a route that does not exist: 404, nothing else happens). */
function warmUpFrontDoor(baseUrl: string): Promise<void> {
  return new Promise((resolve, reject) => {
    get(`${baseUrl}/local-warm-up`, (response) => {
      response.resume();
      response.on('end', () => resolve());
    }).on('error', reject);
  });
}
