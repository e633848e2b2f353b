/** Errors the engine raises to users. Each names the rule, the step and the kernel's reason. */

/** A rule cannot be served on this kernel, or faultline lacks privileges. Nothing was attached. */
export class FaultlineUnsupportedError extends Error {
  override readonly name = 'FaultlineUnsupportedError'
  constructor(
    message: string,
    /** One entry per rule that cannot be served: where it is in the config and why. */
    readonly rules: { path: string; name: string; reason: string }[] = [],
  ) {
    super(message)
  }
}

/** withFailureConfig was called while another call in this process is armed. */
export class FaultlineBusyError extends Error {
  override readonly name = 'FaultlineBusyError'
}

/** The callback did not settle within the `timeout` given to withFailureConfig. Faults were disarmed. */
export class FaultlineTimeoutError extends Error {
  override readonly name = 'FaultlineTimeoutError'
}
