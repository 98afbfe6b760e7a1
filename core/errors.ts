/** The errors the entry point turns into exit statuses. */

/** Bad usage: exit 1, with a hint to --help. */
export class UsageError extends Error {}

/** An input that cannot be used at all: exit 2, one clear line, no output written. */
export class InputError extends Error {}

/** A daemon command's outcome with its own exit status. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message)
  }
}
