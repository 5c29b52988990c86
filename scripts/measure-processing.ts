/**
 * Measures the processor against DynamoDB Local (the measurement lives in bench/processor.ts and is
 * part of `npm run bench`): DynamoDB requests and consumed capacity per event type, and events/s.
 *
 *   npx tsx scripts/measure-processing.ts [--events 3000] [--json]
 */
import { measureProcessing } from '../bench/processor';
import { startDynamoDbLocal } from '../local/engines/dynamodb-local';

const args = process.argv.slice(2);
const totalEvents = Number(args[args.indexOf('--events') + 1] || 3000) || 3000;
const jsonOnly = args.includes('--json');

async function main() {
  const engine = await startDynamoDbLocal();
  try {
    const result = await measureProcessing(engine, { events: totalEvents });
    if (!jsonOnly) {
      console.table(
        result.perEventType.map(({ requests, ...row }) => ({
          ...row,
          calls: Object.entries(requests)
            .map(([op, n]) => `${op}×${n}`)
            .join(' '),
        })),
      );
      console.table({ 'in delivery order': result.throughput, shuffled: result.shuffled });
    }
    console.log(JSON.stringify(result, null, jsonOnly ? 0 : 2));
  } finally {
    await engine.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
