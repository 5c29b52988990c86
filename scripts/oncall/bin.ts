#!/usr/bin/env node
/**
 * The entry point of the package's bundled `livekit-webhooks` CLI (scripts/bundle-handlers.ts).
 * The bundle defines `require.main` as undefined, so the subcommands' own "run when started
 * directly" guards (for `npm run missed` and friends) stay quiet inside it; this file runs the CLI.
 */
import { cli } from './cli';

cli(process.argv.slice(2));
