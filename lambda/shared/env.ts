import { PIPELINE_NAME_ENV } from '../../contracts/metrics';

/** Reads a function's configuration from its environment once, at cold start; a missing value stops it loudly. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

/** A whole number >= 0 (a count, a size, a period that may be zero). */
export function nonNegativeIntEnv(name: string): number {
  const value = Number(requiredEnv(name));
  if (!Number.isInteger(value) || value < 0) throw new Error(`environment variable ${name} must be a non-negative integer`);
  return value;
}

/** A whole number >= 1 (a retention period, a batch size). */
export function positiveIntEnv(name: string): number {
  const value = Number(requiredEnv(name));
  if (!Number.isInteger(value) || value <= 0) throw new Error(`environment variable ${name} must be a positive integer`);
  return value;
}

/**
 * The pipeline's name (PIPELINE_NAME): the `Pipeline` dimension of every metric the function emits,
 * and the `pipeline` field of its log lines (the metric filters' dimension).
 */
export function pipelineNameEnv(): string {
  return requiredEnv(PIPELINE_NAME_ENV);
}
