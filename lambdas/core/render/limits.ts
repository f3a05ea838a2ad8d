/**
 * Platform limits the renderers budget against (see shared/FACTS.md, "SNS, email, Slack").
 * Every budget below leaves room on purpose: a message that is refused is worse than one
 * that is a little shorter.
 */

/** SNS refuses a message over 256 KB, counted in UTF-8 bytes, not characters. */
export const SNS_MAX_MESSAGE_BYTES = 262_144;

/**
 * Kept free below SNS_MAX_MESSAGE_BYTES: the subject, message attributes the SDK or a
 * future caller may add, and rounding in our own arithmetic.
 */
export const SNS_ENVELOPE_MARGIN_BYTES = 2_048;

/** SNS: a subject must be "less than 100 characters"; we count UTF-16 units, which is never fewer. */
export const SNS_SUBJECT_MAX_CHARS = 99;

/** Slack Block Kit: blocks per message. */
export const SLACK_MAX_BLOCKS = 50;
/** Slack Block Kit: characters in one section's text. */
export const SLACK_MAX_SECTION_CHARS = 3_000;
/** Slack Block Kit: fields per section, and characters per field. */
export const SLACK_MAX_FIELDS = 10;
export const SLACK_MAX_FIELD_CHARS = 2_000;
/** Slack Block Kit: a header block's plain text. */
export const SLACK_MAX_HEADER_CHARS = 150;
/**
 * Slack refuses messages near 13k characters of blocks with `msg_blocks_too_long`; the
 * serialized blocks array stays under this, which is stricter than counting text alone.
 */
export const SLACK_MAX_BLOCKS_JSON_CHARS = 11_000;

/**
 * Amazon Q Developer in chat applications renders long descriptions poorly and documents
 * no generous limit; a chat message should point at the email, not replace it.
 */
export const CHAT_MAX_DESCRIPTION_CHARS = 3_500;
export const CHAT_MAX_TITLE_CHARS = 250;
