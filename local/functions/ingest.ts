/**
 * Starts the ingest function (front door + ingest handler, ingest.worker.ts) on a worker thread of
 * its own, so the HTTP server accepts and answers while the main thread (processor, status page,
 * tests) is busy or blocked, as API Gateway and the ingest Lambda do on AWS.
 */
import { join } from 'node:path';
import type { LogLevel } from '../../lambda/shared/logger';
import type { IngestConfig } from '../../lib/config';
import type { LocalRoute, LocalRouteRequest } from '../front-door';
import { FunctionWorker, startFunctionWorker } from './function-worker';

/** The call the worker makes for a forwarded GET route. */
export const ROUTE_METHOD = 'route';

/** The ingest worker's init data (structured clone only). */
export interface IngestFunctionInit {
  /** fauxqs: SQS, and S3 on the same port. */
  readonly sqsEndpoint: string;
  readonly queueUrl: string;
  /** The claim-check bucket (on fauxqs's S3); absent, an event too large for SQS is answered 503. */
  readonly claimCheckBucket?: string;
  /** The key set's JSON text, `{"<apiKey>": "<apiSecret>"}`, as the secret holds it. */
  readonly keysJson: string;
  readonly keyCacheSeconds: number;
  readonly maxBodyBytes: number;
  readonly clockToleranceSeconds: number;
  readonly port?: number;
  readonly host?: string;
  readonly logLevel: LogLevel;
  /** GET paths served by the main thread's routes. */
  readonly forwardedGetPaths: readonly string[];
}

export interface IngestFunctionReady {
  /** `http://127.0.0.1:<port>` */
  readonly baseUrl: string;
}

export interface IngestFunctionOptions {
  readonly sqsEndpoint: string;
  readonly queueUrl: string;
  /** The claim-check bucket, created on the same fauxqs (`SqsEmulator.createBucket`). */
  readonly claimCheckBucket?: string;
  readonly keys: Readonly<Record<string, string>>;
  readonly ingest: Pick<IngestConfig, 'keyCacheSeconds' | 'maxBodyBytes' | 'clockToleranceSeconds'>;
  readonly port?: number;
  readonly logLevel: LogLevel;
  /** The pipeline's name (PIPELINE_NAME): the `pipeline` field of the function's log lines. */
  readonly pipeline: string;
  readonly logSink: (line: string) => void;
  /** GET routes served on the main thread (they read its data); the front door forwards them. */
  readonly getRoutes: Readonly<Record<string, LocalRoute>>;
  readonly onCrash: (error: Error) => void;
}

export function startIngestFunction(options: IngestFunctionOptions): Promise<FunctionWorker<IngestFunctionReady>> {
  return startFunctionWorker<IngestFunctionInit, IngestFunctionReady>({
    name: 'ingest',
    entry: join(__dirname, 'ingest.worker.ts'),
    init: {
      sqsEndpoint: options.sqsEndpoint,
      queueUrl: options.queueUrl,
      ...(options.claimCheckBucket ? { claimCheckBucket: options.claimCheckBucket } : {}),
      keysJson: JSON.stringify(options.keys),
      keyCacheSeconds: options.ingest.keyCacheSeconds,
      maxBodyBytes: options.ingest.maxBodyBytes,
      clockToleranceSeconds: options.ingest.clockToleranceSeconds,
      port: options.port,
      logLevel: options.logLevel,
      forwardedGetPaths: Object.keys(options.getRoutes),
    },
    pipeline: options.pipeline,
    logSink: options.logSink,
    onCrash: options.onCrash,
    handlers: {
      [ROUTE_METHOD]: (value) => {
        const { path, request } = value as { path: string; request: LocalRouteRequest };
        const route = options.getRoutes[path];
        if (!route) throw new Error(`no local route for ${path}`);
        return route(request);
      },
    },
  });
}
