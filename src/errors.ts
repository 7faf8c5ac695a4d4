/** Exit codes, documented in the README. Only src/main.ts turns them into a process exit code. */
export const ExitCode = {
  ok: 0,
  checkFailed: 1,
  database: 2,
  usage: 64,
  dataError: 65,
  unavailable: 69,
  internal: 70,
  tempFail: 75,
  config: 78,
  interrupted: 130,
} as const;

/** An error the operator can act on: one line of message, an optional next step, an exit code. */
export class CesarError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly exitCode: number,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class ConfigError extends CesarError {
  constructor(message: string, hint?: string) {
    super(message, 'invalid_config', ExitCode.config, hint);
  }
}

export class UsageError extends CesarError {
  constructor(message: string, hint?: string) {
    super(message, 'usage', ExitCode.usage, hint);
  }
}

export class InputError extends CesarError {
  /** The input field at fault, when there is one (the API names it in its 400 answer). */
  field?: string;
  constructor(message: string, hint?: string, field?: string) {
    super(message, 'invalid_input', ExitCode.dataError, hint);
    this.field = field;
  }
}

/** A job (or other record) that does not exist. Exit 65; the API answers 404. */
export class NotFoundError extends CesarError {
  constructor(message: string, hint?: string) {
    super(message, 'not_found', ExitCode.dataError, hint);
  }
}

/** A record in a state that does not allow the change asked for. Exit 65; the API answers 409. */
export class StateError extends CesarError {
  constructor(message: string, hint?: string) {
    super(message, 'invalid_state', ExitCode.dataError, hint);
  }
}

export type DatabaseErrorCode =
  | 'db_unreachable'
  | 'db_auth_failed'
  | 'db_missing'
  | 'db_unsupported'
  | 'schema_missing'
  | 'schema_ahead'
  | 'migration_changed'
  | 'migration_failed'
  | 'embedded_failed';

/** The database cannot be used: unreachable, refused us, has no (or a foreign) schema. Exit 2. */
export class DatabaseError extends CesarError {
  constructor(message: string, code: DatabaseErrorCode, hint?: string, options?: { cause?: unknown }) {
    super(message, code, ExitCode.database, hint, options);
  }
}

/** Something cesar itself got wrong. Exit 70. */
export class InternalError extends CesarError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'internal', ExitCode.internal, undefined, options);
  }
}
