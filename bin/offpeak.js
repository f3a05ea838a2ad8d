#!/usr/bin/env node
// The CLI and the migrations it loads are TypeScript; tsx's loader lets Node 20+ run them unbuilt.
import { register } from 'tsx/esm/api';

register();
// The AWS SDK warns on every Data API command under Node 20 that SDK releases after January 2027 will
// need Node 22. The locked SDK runs on 20 and the Lambdas run on nodejs22.x, so the nine-line warning
// would only bury offpeak's own one-line messages; CONTRIBUTING.md says when the floor moves.
// Set AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=false to see it again.
globalThis.process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
await import('../scripts/offpeak.ts');
