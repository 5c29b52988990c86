/**
 * What every benchmark section hands the report writer: its figures, the goal it is held to,
 * whether the goal was met, and the method in one line. Figures come from measurement only;
 * anything assumed (prices, Lambda durations on AWS) says so in its label or in `notes`.
 */
import type { DynamoDbLocal } from '../local/engines/dynamodb-local';
import type { SqsEmulator } from '../local/engines/sqs-emulator';

export type Figure = number | string | boolean | null;

export interface Table {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly Figure[])[];
}

export interface SectionResult {
  readonly id: string;
  readonly title: string;
  /** The goal from the issue, or undefined when the section only reports figures. */
  readonly goal?: string;
  /** true/false when a goal applies; null when there is none or it could not be judged. */
  readonly met: boolean | null;
  readonly method: string;
  /** Headline figures, flat, for the JSON and the summary table. */
  readonly figures: Record<string, Figure>;
  readonly tables?: Record<string, Table>;
  readonly notes?: readonly string[];
  readonly seconds: number;
  /** Set when the section failed to run; its figures are then absent. */
  readonly error?: string;
}

export interface BenchContext {
  readonly quick: boolean;
  readonly engines: { readonly dynamodb: DynamoDbLocal; readonly sqs: SqsEmulator };
  /** Results of earlier sections (the cost model reads the measured request counts from them). */
  readonly results: ReadonlyMap<string, SectionResult>;
  readonly log: (line: string) => void;
}

export type Section = (context: BenchContext) => Promise<Omit<SectionResult, 'seconds'>>;

/** Percentile of sorted-or-not values (nearest rank). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export const median = (values: readonly number[]) => percentile(values, 50);

export const round = (value: number, digits = 2) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : value);

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
