import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { conformancePage, conformanceRows, renderConformance } from '../../../scripts/data-api/conformance.ts';

it('docs/data-api-conformance.md is the matrix of the conformance tests (regenerate: npx tsx scripts/data-api/write-conformance.ts)', () => {
  // Act
  const rows = conformanceRows();

  // Assess
  expect(rows.length).toBeGreaterThanOrEqual(30);
  expect(readFileSync(conformancePage, 'utf8')).toBe(renderConformance(rows));
});
