/** Writes docs/data-api-conformance.md from the conformance tests' names: `npx tsx scripts/data-api/write-conformance.ts`. */
import { writeFileSync } from 'node:fs';
import { conformancePage, renderConformance } from './conformance.ts';

writeFileSync(conformancePage, renderConformance());
