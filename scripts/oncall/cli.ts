/**
 * `livekit-webhooks`: the on-call commands as one CLI, for teams that install the package rather
 * than clone this repository (`npx livekit-webhooks missed --stack LiveKitWebhooks`). Each
 * subcommand is the script behind `npm run <name>` in this repository, with the same options,
 * help and exit codes (scripts/oncall/target.ts `runMain`: 0 done, 1 failed or target unreachable,
 * 2 usage error). The package ships it bundled with its AWS SDK clients (`npm run build`).
 */
import * as missed from './missed';
import * as redriveDlq from './redrive-dlq';
import * as redrivePublisher from './redrive-publisher';
import * as replay from './replay';
import * as state from './state';
import { runMain } from './target';

/** The subcommands, by the name a user types. */
export const SUBCOMMANDS = {
  missed,
  state,
  replay,
  'dlq-redrive': redriveDlq,
  'publisher-redrive': redrivePublisher,
} as const;

export type Subcommand = keyof typeof SUBCOMMANDS;

/** The overview `livekit-webhooks` prints without a subcommand, or with `--help`. */
export function overview(): string {
  // The first sentence of each command's description.
  const rows = Object.entries(SUBCOMMANDS).map(
    ([name, command]) => `  ${name.padEnd(17)} ${command.COMMAND.description.split(/(?<=\.) /)[0]}`,
  );
  return [
    'usage: livekit-webhooks <command> [options]   (livekit-webhooks <command> --help for its options)',
    '',
    'commands:',
    ...rows,
    '',
    'Target a deployed stack with --stack <name> [--region <r>], or `npm run local` with --local <ready line or file>.',
    '',
  ].join('\n');
}

/** Runs the CLI with `argv` (without node and the script); exits the process. */
export function cli(argv: readonly string[]): void {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(overview());
    process.exit(name === undefined ? 2 : 0);
  }
  if (!Object.hasOwn(SUBCOMMANDS, name)) {
    process.stderr.write(`unknown command ${JSON.stringify(name)}\n\n${overview()}`);
    process.exit(2);
  }
  const command = SUBCOMMANDS[name as Subcommand];
  // The subcommand's own usage line names the npm script; the CLI's name is what the user typed.
  runMain(
    command.main,
    { ...command.COMMAND, usage: command.COMMAND.usage.replace(/^usage: npm run [\w:-]+ --/, `usage: livekit-webhooks ${name}`) },
    rest,
  );
}

if (require.main === module) cli(process.argv.slice(2));
