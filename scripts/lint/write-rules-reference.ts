/**
 * Rewrites the generated part of docs/lint-rules.md (between the rules-reference markers) from the
 * rule catalog and its examples. Run: npx tsx scripts/lint/write-rules-reference.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { END, START, renderRulesReference } from './rules-reference.ts';

const page = join(import.meta.dirname, '../../docs/lint-rules.md');
const text = readFileSync(page, 'utf8');
const start = text.indexOf(START);
const end = text.indexOf(END);
if (start < 0 || end < start) throw new Error(`${page} has no ${START} … ${END} markers: add them where the reference goes`);
writeFileSync(page, `${text.slice(0, start)}${renderRulesReference()}${text.slice(end + END.length)}`);
console.log(`wrote the rules reference into ${page}`);
