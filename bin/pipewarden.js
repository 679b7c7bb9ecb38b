#!/usr/bin/env node
// Installed entry point: runs the compiled CLI (npm run build) or, in a checkout, the TypeScript source.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/src/cli.js', import.meta.url);
await import(existsSync(compiled) ? compiled.href : new URL('../src/cli.ts', import.meta.url).href);
