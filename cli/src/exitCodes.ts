/**
 * What the client's exit code says. Scripts can tell how a run ended without reading its output; the
 * README lists the same table.
 */
export const exitCodes = {
  /** The run completed, or the command did what it was asked. */
  ok: 0,
  /** The API could not be reached, refused the request, or sign-in failed. */
  error: 1,
  /** Bad options or arguments: nothing was sent. */
  usage: 2,
  /** The run failed. */
  failed: 3,
  /** The run was rejected by an approver. */
  rejected: 4,
  /** Nobody decided before the approval deadline. */
  expired: 5,
  /** The run was cancelled (terminated). */
  cancelled: 6,
  /** The caller's token quota is too low for the run (at the start, or when reserving). */
  quotaExceeded: 7,
  /** The run used up its token budget before the final answer. */
  budgetSpent: 8,
  /** The run waits for approval and nobody decided here: no terminal to ask on, no --approve. */
  awaitingApproval: 10,
  /** Stopped following with Ctrl-C; the run goes on. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];

/** The exit code for a run that has ended with `status` (the run view's status). */
export function exitCodeForStatus(status: string): ExitCode {
  switch (status) {
    case 'completed':
      return exitCodes.ok;
    case 'rejected':
      return exitCodes.rejected;
    case 'expired':
      return exitCodes.expired;
    case 'terminated':
      return exitCodes.cancelled;
    case 'quota-exceeded':
      return exitCodes.quotaExceeded;
    case 'budget-spent':
      return exitCodes.budgetSpent;
    case 'awaiting-approval':
      return exitCodes.awaitingApproval;
    default:
      return exitCodes.failed;
  }
}

/** An error that ends the command with a given exit code and message. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly problem?: unknown,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
