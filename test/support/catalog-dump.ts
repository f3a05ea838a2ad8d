import type { SqlClient } from '../../lambdas/core/db/client.ts';
import { sql, type SqlQuery } from '../../lambdas/core/db/sql.ts';

/**
 * A catalog dump of the application schema — tables, columns, indexes, constraints and
 * extensions — in a stable order, for asserting that two databases have the same schema.
 * The ledger schema (default `offpeak`) and system schemas are left out. Everything is
 * rendered by PostgreSQL itself (format_type, pg_get_indexdef, pg_get_constraintdef,
 * pg_get_expr), so equal dumps mean equal definitions, not just equal names.
 */
export interface CatalogDump {
  extensions: string[];
  tables: string[];
  columns: string[];
  indexes: string[];
  constraints: string[];
}

export async function catalogDump(client: SqlClient, options: { ledgerSchema?: string } = {}): Promise<CatalogDump> {
  const ledger = options.ledgerSchema ?? 'offpeak';
  const userSchema = sql`n.nspname NOT IN ('pg_catalog', 'information_schema', ${ledger}) AND left(n.nspname, 3) <> 'pg_'`;
  const lines = async (query: SqlQuery) => (await client.query<{ line: string }>(query)).rows.map((r) => r.line);

  const [extensions, tables, columns, indexes, constraints] = [
    await lines(sql`SELECT extname AS line FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1`),
    await lines(sql`
      SELECT n.nspname || '.' || c.relname || ' ' || c.relkind::text || ' persistence=' || c.relpersistence::text AS line
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ${userSchema}
      ORDER BY 1`),
    await lines(sql`
      SELECT n.nspname || '.' || c.relname || '.' || a.attname
        || ' #' || a.attnum || ' ' || format_type(a.atttypid, a.atttypmod)
        || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
        || COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
        || CASE a.attidentity WHEN 'a' THEN ' IDENTITY ALWAYS' WHEN 'd' THEN ' IDENTITY BY DEFAULT' ELSE '' END
        || CASE a.attgenerated WHEN 's' THEN ' GENERATED STORED' ELSE '' END AS line
      FROM pg_attribute a
      JOIN pg_class c ON c.oid = a.attrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ${userSchema}
      ORDER BY 1`),
    await lines(sql`
      SELECT pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' INVALID' END AS line
      FROM pg_index i
      JOIN pg_class c ON c.oid = i.indrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${userSchema}
      ORDER BY 1`),
    await lines(sql`
      SELECT n.nspname || '.' || c.relname || ' ' || con.conname || ' ' || con.contype::text || ' ' || pg_get_constraintdef(con.oid)
        || CASE WHEN con.convalidated THEN '' ELSE ' NOT VALIDATED' END AS line
      FROM pg_constraint con
      JOIN pg_class c ON c.oid = con.conrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${userSchema}
      ORDER BY 1`),
  ];
  return { extensions, tables, columns, indexes, constraints };
}
