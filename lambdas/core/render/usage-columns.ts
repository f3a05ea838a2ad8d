import type { IndexUsageRow } from '../health/report.ts';
import { formatCount, prettySizeOrDash, type Column } from './format.ts';

/**
 * The index-usage tables every renderer shows. Email and Slack differ only in how wide a name may be
 * and whether the usage table names the table (Slack's narrower code block leaves it out).
 */
export function usageColumns(maxWidth: number, options: { withTable: boolean }): readonly Column<IndexUsageRow>[] {
  return [
    { title: 'index', align: 'left', maxWidth, value: (r) => r.index },
    ...(options.withTable ? [tableColumn(maxWidth)] : []),
    { title: 'idx_scan', align: 'right', value: (r) => formatCount(r.idxScan) },
    { title: 'idx_tup_read', align: 'right', value: (r) => formatCount(r.idxTupRead) },
    { title: 'idx_tup_fetch', align: 'right', value: (r) => formatCount(r.idxTupFetch) },
    { title: 'size', align: 'right', value: (r) => prettySizeOrDash(r.sizeBytes) },
  ];
}

/** The unused-index table: name, table and size. */
export function unusedColumns(maxWidth: number): readonly Column<IndexUsageRow>[] {
  return [
    { title: 'index', align: 'left', maxWidth, value: (r) => r.index },
    tableColumn(maxWidth),
    { title: 'size', align: 'right', value: (r) => prettySizeOrDash(r.sizeBytes) },
  ];
}

function tableColumn(maxWidth: number): Column<IndexUsageRow> {
  return { title: 'table', align: 'left', maxWidth, value: (r) => `${r.schema}.${r.table}` };
}
