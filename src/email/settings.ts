/** The email ingestion settings, from the environment (see config.ts). */
export interface EmailSettings {
  /** CESAR_MAILDIR, resolved to an absolute path: the Maildir whose new/ and cur/ are read; undefined: not configured. */
  maildir: string | undefined;
  /** A message file larger than this is not parsed: it is recorded as failed (too_large). */
  maxMessageBytes: number;
  /** The body kept in an episodic memory is cut after this many characters. */
  maxBodyChars: number;
}

export const defaultEmailSettings: EmailSettings = {
  maildir: undefined,
  maxMessageBytes: 64 * 1024 * 1024,
  maxBodyChars: 8_000,
};
