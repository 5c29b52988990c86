/**
 * `npm run replay -- [--stack <name>] --from <ISO time> --to <ISO time> [--wait]`
 *
 * Replays the state changes archived between two times from the bus archive back onto the bus
 * (EventBridge StartReplay), for consumers that missed them (a rule disabled, a target failing).
 * Replayed events carry the same change ids, so consumers that dedupe on them are safe; every
 * rule on the bus receives them again, so tell consumers that do not dedupe. Deployed stacks only:
 * `npm run local` has no EventBridge (changes are printed as `state change published` lines).
 */
import { DescribeReplayCommand, StartReplayCommand } from '@aws-sdk/client-eventbridge';
import { CommandSpec, OncallTarget, ParsedArgs, resolveTarget, runMain, UsageError } from './target';

export const USAGE = 'usage: npm run replay -- [--stack <name> [--region <r>]] --from <ISO time> --to <ISO time> [--wait]';

export const COMMAND: CommandSpec = {
  usage: USAGE,
  description:
    'Replays the state changes archived between two times from the bus archive back onto the bus (EventBridge StartReplay). ' +
    'Every rule on the bus receives them again, with their original change ids. Deployed stacks only.',
  options: {
    from: { type: 'string', value: '<ISO time>', description: 'start of the range, e.g. 2025-01-31T10:00:00Z' },
    to: { type: 'string', value: '<ISO time>', description: 'end of the range (not in the future)' },
    wait: { type: 'boolean', description: 'follow the replay until it ends' },
  },
};

export class ReplayUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplayUnavailableError';
  }
}

export function parseRange(from: unknown, to: unknown, now = Date.now()): { from: Date; to: Date } {
  if (typeof from !== 'string' || typeof to !== 'string')
    throw new UsageError('--from and --to are required (ISO 8601, e.g. 2025-01-31T10:00:00Z)');
  const start = new Date(from);
  const end = new Date(to);
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()))
    throw new UsageError(`--from/--to must be ISO 8601 times, got ${from} / ${to}`);
  if (start >= end) throw new UsageError('--from must be before --to');
  if (end.getTime() > now) throw new UsageError('--to must not be in the future');
  return { from: start, to: end };
}

export async function startReplay(target: OncallTarget, range: { from: Date; to: Date }): Promise<{ replayName: string; state?: string }> {
  if (!target.events) {
    throw new ReplayUnavailableError(
      target.kind === 'local'
        ? 'replay is not available locally: npm run local has no EventBridge bus or archive (state changes are printed as "state change published" log lines).'
        : 'the stack has no EventArchiveArn/EventBusArn outputs: deploy the current version first.',
    );
  }
  const replayName = `oncall-${range.from
    .toISOString()
    .replace(/[^0-9]/g, '')
    .slice(0, 14)}-${Date.now().toString(36)}`;
  const { State } = await target.events.client.send(
    new StartReplayCommand({
      ReplayName: replayName,
      Description: `on-call replay ${range.from.toISOString()} .. ${range.to.toISOString()}`,
      EventSourceArn: target.events.archiveArn,
      EventStartTime: range.from,
      EventEndTime: range.to,
      Destination: { Arn: target.events.busArn },
    }),
  );
  return { replayName, state: State };
}

export async function main(parsed: ParsedArgs): Promise<number> {
  const range = parseRange(parsed.flags.from, parsed.flags.to);
  const target = await resolveTarget(parsed);
  try {
    const { replayName, state } = await startReplay(target, range);
    process.stdout.write(
      `${target.description}: replay ${replayName} ${state ?? 'STARTING'} (aws events describe-replay --replay-name ${replayName})\n`,
    );
    if (parsed.flags.wait === true && target.events) {
      for (;;) {
        const replay = await target.events.client.send(new DescribeReplayCommand({ ReplayName: replayName }));
        if (replay.State && !['STARTING', 'RUNNING', 'CANCELLING'].includes(replay.State)) {
          process.stdout.write(`replay ${replay.State}${replay.StateReason ? `: ${replay.StateReason}` : ''}\n`);
          return replay.State === 'COMPLETED' ? 0 : 1;
        }
        await new Promise((resolve) => setTimeout(resolve, 5000));
      }
    }
    return 0;
  } catch (error) {
    if (error instanceof ReplayUnavailableError) {
      process.stderr.write(`${error.message}\n`);
      return 3;
    }
    throw error;
  } finally {
    target.close();
  }
}

if (require.main === module) runMain(main, COMMAND);
