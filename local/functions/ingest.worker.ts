/**
 * The ingest function on its own thread: the front door (API Gateway's stand-in, with its HTTP
 * server) and the real ingest handler, with an SQS client of its own. GET routes that need the
 * main thread's data (`/status`) are forwarded to it by message. See ingest.ts.
 */
import { createIngestHandler } from '../../lambda/ingest/ingest-handler';
import { FrontDoor, LocalRoute, LocalRouteResult } from '../front-door';
import { localSqsClient } from './clients';
import type { IngestFunctionInit, IngestFunctionReady } from './ingest';
import { ROUTE_METHOD } from './ingest';
import { runFunctionWorker } from './worker-runtime';

runFunctionWorker<IngestFunctionInit, IngestFunctionReady>(async (init, host) => {
  const sqs = host.meter(localSqsClient(init.sqsEndpoint), 'SQS');
  const handler = createIngestHandler({
    sqs,
    queueUrl: init.queueUrl,
    loadKeys: async () => init.keysJson,
    keyCacheSeconds: init.keyCacheSeconds,
    maxBodyBytes: init.maxBodyBytes,
    clockToleranceSeconds: init.clockToleranceSeconds,
    logger: host.logger('ingest', init.logLevel),
  });
  const getRoutes: Record<string, LocalRoute> = {};
  for (const path of init.forwardedGetPaths) getRoutes[path] = (request) => host.call<LocalRouteResult>(ROUTE_METHOD, { path, request });
  const frontDoor = new FrontDoor({ handler, port: init.port, host: init.host, getRoutes });
  let baseUrl: string;
  try {
    baseUrl = await frontDoor.start();
  } catch (error) {
    sqs.destroy();
    throw error;
  }
  return {
    ready: { baseUrl },
    async stop() {
      await frontDoor.stop();
      sqs.destroy();
    },
  };
});
