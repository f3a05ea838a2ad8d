import { createIndex, defineMigration } from 'offpeak';

/** Admin dashboard analytics: sign-ups, dialogs and revenue per day. Only analytics queries are affected. */
export default defineMigration({
  revision: '202508230001',
  downRevision: '202508190001',
  description: 'add admin analytics indexes (admin dashboard)',
  risk: 'low',
  up: [
    createIndex({ name: 'idx_users_created_at', table: 'users', columns: ['created_at'] }),
    createIndex({ name: 'idx_dialogs_created_at', table: 'dialogs', columns: ['created_at'] }),
    // Messages are append-only, so created_at follows the heap order: a BRIN is tiny and enough for day ranges.
    createIndex({ name: 'idx_dialog_messages_created_at_brin', table: 'dialog_messages', columns: ['created_at'], using: 'brin' }),
    createIndex({
      name: 'idx_balance_transactions_type_created_at',
      table: 'balance_transactions',
      columns: ['transaction_type', 'created_at'],
      include: ['amount'],
    }),
  ],
});
