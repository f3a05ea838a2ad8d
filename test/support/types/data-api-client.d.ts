/** The parts of data-api-client 1.3.1 (no types of its own) that the peer-client tests use. */
declare module 'data-api-client' {
  interface QueryResult {
    records?: Array<Record<string, unknown>>;
    [key: string]: unknown;
  }
  interface Transaction {
    query(sql: string, params?: Record<string, unknown>): Transaction;
    rollback(handler: (error: Error, status: unknown) => void): Transaction;
    commit(): Promise<unknown>;
  }
  interface Client {
    query(sql: string, params?: Record<string, unknown>): Promise<QueryResult>;
    transaction(): Transaction;
  }
  export default function dataApiClient(config: {
    secretArn: string;
    resourceArn: string;
    database?: string;
    engine?: 'mysql' | 'pg';
    options?: Record<string, unknown>;
  }): Client;
}
