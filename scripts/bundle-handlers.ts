/**
 * Bundles each Lambda handler into the package (`dist/handlers/<name>/index.js` with its source
 * map), with the options the CDK uses when it bundles from source (lib/lambda-defaults.ts
 * `HANDLER_BUNDLING`), so a consumer's `cdk synth` uses these files and needs neither our
 * TypeScript sources nor esbuild; and the on-call CLI (`dist/cli/index.js`). Run by `npm run build` after tsc.
 */
import { build } from 'esbuild';
import { join } from 'node:path';
import { HANDLER_BUNDLING, HANDLERS } from '../lib/lambda-defaults';

async function main(): Promise<void> {
  const root = join(__dirname, '..');
  for (const name of HANDLERS) {
    const outfile = join(root, 'dist', 'handlers', name, 'index.js');
    await build({
      entryPoints: [join(root, 'lambda', name, 'handler.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      target: HANDLER_BUNDLING.target,
      format: HANDLER_BUNDLING.format,
      minify: HANDLER_BUNDLING.minify,
      sourcemap: HANDLER_BUNDLING.sourceMap,
      external: [...HANDLER_BUNDLING.externalModules],
      logLevel: 'warning',
    });
    process.stdout.write(`bundled ${name} -> ${outfile}\n`);
  }
  // The on-call CLI (package.json `bin`), with its AWS SDK clients inside: the package has no
  // runtime dependencies, so `npx livekit-webhooks` works wherever the package is installed.
  const cli = join(root, 'dist', 'cli', 'index.js');
  await build({
    entryPoints: [join(root, 'scripts', 'oncall', 'bin.ts')],
    // Each subcommand's module runs itself when `require.main === module` (npm run missed, ...); in
    // one bundle every module is the main one, so that guard is turned off here and bin.ts runs the CLI.
    define: { 'require.main': 'undefined' },
    outfile: cli,
    bundle: true,
    platform: 'node',
    // The CLI runs on the operator's Node (engines: >= 20), not on Lambda's.
    target: 'node20',
    format: 'cjs',
    minify: false,
    sourcemap: true,
    logLevel: 'warning',
  });
  process.stdout.write(`bundled the on-call CLI -> ${cli}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
