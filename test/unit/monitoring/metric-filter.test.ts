import { LOG_METRICS } from '../../../lib/monitoring';
import { matchesFilterPattern, parseFilterPattern } from '../../support/metric-filter';

/** The evaluator other tests count log lines with must itself be able to say no. */
describe('matchesFilterPattern (test support: CloudWatch JSON filter patterns on log lines)', () => {
  const rejected = (reason: string, extra: Record<string, unknown> = { pipeline: 'p' }) => ({
    message: 'webhook rejected',
    reason,
    ...extra,
  });

  it('counts a line only when every condition holds, the pipeline field included', () => {
    expect(matchesFilterPattern(LOG_METRICS.signatureFailures.pattern, rejected('unknown_key'))).toBe(true);
    expect(matchesFilterPattern(LOG_METRICS.signatureFailures.pattern, rejected('missing_token'))).toBe(false);
    expect(matchesFilterPattern(LOG_METRICS.signatureFailures.pattern, rejected('unknown_key', {}))).toBe(false);
    expect(matchesFilterPattern(LOG_METRICS.signatureProbes.pattern, JSON.stringify(rejected('missing_token')))).toBe(true);
    expect(matchesFilterPattern(LOG_METRICS.apiThrottledRequests.pattern, { pipeline: 'p', status: '429' })).toBe(true);
    expect(matchesFilterPattern(LOG_METRICS.apiThrottledRequests.pattern, { pipeline: 'p', status: 429 })).toBe(false);
  });

  it('parses every pattern the pipeline defines, and refuses syntax it does not model', () => {
    for (const { pattern } of Object.values(LOG_METRICS)) expect(() => parseFilterPattern(pattern)).not.toThrow();
    expect(() => parseFilterPattern('{ $.a = "x" && $.b = "y" || $.c = "z" }')).toThrow(/mixed/);
    expect(() => parseFilterPattern('{ $.a != "x" }')).toThrow();
    expect(() => parseFilterPattern('{ $.a > 1 }')).toThrow();
  });
});
