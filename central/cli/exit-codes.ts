/**
 * The CLI's exit codes, a contract for scripts (documented in README "Operating portcullis").
 * Modelled on sysexits-style distinct codes: a script can tell "retry later" (3) from
 * "fix the token" (4) from "wrong name" (5) without parsing text.
 */
export const ExitCode = {
  ok: 0,
  generic: 1,
  usage: 2,
  unreachable: 3,
  unauthorized: 4,
  notFound: 5,
} as const

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

/** A failure the CLI reports with a message and a specific exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
  ) {
    super(message)
    this.name = 'CliError'
  }
}
