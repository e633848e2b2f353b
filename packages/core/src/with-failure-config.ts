/**
 * withFailureConfig(cfg, fn): arm, run fn, always disarm. The only entry point most users need.
 */
import type { FailureConfig, FailureConfigInput } from './config/types.js'
import { isValidatedConfig, loadConfigSync, validateConfig } from './config/index.js'
import { arm, type ArmOptions, type Session } from './engine/session.js'
import { FaultlineTimeoutError } from './engine/errors.js'
import { underTcLock } from './engine/state/lock.js'
import type { FaultsHandle } from './engine/handle.js'

export interface WithFailureConfigOptions {
  /**
   * Disarm and reject with FaultlineTimeoutError if fn has not settled after this many ms.
   * Test frameworks abandon a timed-out test's promise; without this the faults would stay armed
   * until the next arm attempt or the process exit. Adapters pass the test's own timeout.
   */
  timeout?: number
}

/** A config object, a validated config, or the path of a YAML file. */
export type ConfigSource = FailureConfigInput | FailureConfig | string

export function resolveConfig(source: ConfigSource): FailureConfig {
  if (typeof source === 'string') return loadConfigSync(source)
  if (isValidatedConfig(source)) return source
  return validateConfig(source)
}

export async function withFailureConfig<T>(
  source: ConfigSource,
  fn: (faults: FaultsHandle) => T | Promise<T>,
  options: WithFailureConfigOptions = {},
): Promise<T> {
  return withArmedSession(source, fn, options)
}

/**
 * withFailureConfig with the engine's arming options (exploreFailures' census records call
 * sites); `onSession` gets the session as soon as it is armed, to read it after disarm.
 */
export async function withArmedSession<T>(
  source: ConfigSource,
  fn: (faults: FaultsHandle) => T | Promise<T>,
  options: WithFailureConfigOptions,
  armOptions: ArmOptions = {},
  onSession?: (session: Session) => void,
): Promise<T> {
  const config = resolveConfig(source)
  // Network rules change tc state under the tc lock: wait for it here, where waiting blocks nothing.
  const locked = <R>(f: () => R): R | Promise<R> => (config.network.length || config.dns.length ? underTcLock(f) : f())
  const session = await locked(() => arm(config, armOptions))
  onSession?.(session)
  let timer: NodeJS.Timeout | undefined
  try {
    const run = Promise.resolve().then(() => fn(session.handle))
    if (!options.timeout) return await run
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        void Promise.resolve(locked(() => session.disarm())).finally(() =>
          reject(new FaultlineTimeoutError(`withFailureConfig: the callback did not settle within ${options.timeout} ms; faults were disarmed`)),
        )
      }, options.timeout)
    })
    return await Promise.race([run, timedOut])
  } finally {
    if (timer) clearTimeout(timer)
    await locked(() => session.disarm())
  }
}
