#!/usr/bin/env node
// The CLI and the migrations it loads are TypeScript; tsx's loader lets Node 20+ run them unbuilt.
import { register } from 'tsx/esm/api';

register();
await import('../scripts/offpeak.ts');
