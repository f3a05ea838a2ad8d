import { createIndex, defineMigration } from 'offpeak';

/** Operator message sending for the Telegram bot: open a taken-over dialog, load its tail, find online operators. */
export default defineMigration({
  revision: '202508190001',
  downRevision: '202508010000',
  description: 'add critical indexes for operator messages (Telegram bot operator sending)',
  risk: 'low',
  up: [
    createIndex({ name: 'idx_dialog_messages_dialog_id_created_at', table: 'dialog_messages', columns: ['dialog_id', 'created_at DESC'] }),
    createIndex({
      name: 'idx_dialogs_assigned_operator_id_taken_over',
      table: 'dialogs',
      columns: ['assigned_operator_id', 'last_message_at DESC'],
      where: 'is_taken_over',
    }),
    createIndex({ name: 'idx_dialogs_telegram_chat_id', table: 'dialogs', columns: ['telegram_chat_id'] }),
    createIndex({
      name: 'idx_operator_presence_status_last_heartbeat_at',
      table: 'operator_presence',
      columns: ['status', 'last_heartbeat_at DESC'],
      where: "status <> 'offline'",
    }),
  ],
});
