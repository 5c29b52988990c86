import { PIPELINE_LOG_FIELD } from '../contracts/metrics';

/**
 * The fields of the HTTP API's access log line, one per request (`$context` variables, AWS API
 * Gateway developer guide, HTTP API logging variables). Kept free of CDK imports so the bench can
 * price the line it renders.
 */
export function accessLogFields(pipelineName: string): Record<string, string> {
  return {
    // A literal: the throttled-requests metric filter takes its `Pipeline` dimension from it.
    [PIPELINE_LOG_FIELD]: pipelineName,
    requestId: '$context.requestId',
    ip: '$context.identity.sourceIp',
    time: '$context.requestTime',
    method: '$context.httpMethod',
    path: '$context.path',
    status: '$context.status',
    responseLength: '$context.responseLength',
    latencyMs: '$context.responseLatency',
    integrationLatencyMs: '$context.integrationLatency',
    integrationError: '$context.integrationErrorMessage',
    userAgent: '$context.identity.userAgent',
  };
}
