#!/usr/bin/env node
// Launcher for the TypeScript CLI: registers tsx's loader, then runs main.ts.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
await main(process.argv);
