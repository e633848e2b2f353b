/**
 * What needs no privilege to read: the kernel's build configuration (/boot/config-<release>, or
 * /proc/config.gz with CONFIG_IKCONFIG_PROC) and the active LSM list. doctor shows these next to
 * a probe that could not run, so an unprivileged run still says what the kernel offers.
 */
import fs from 'node:fs'
import os from 'node:os'
import zlib from 'node:zlib'

let cached: { source: string; options: Map<string, string> } | null | undefined

/** The kernel config ("y", "m", or a value per CONFIG_ name; unset ones are absent), or null when unreadable. */
export function kernelConfig(): { source: string; options: Map<string, string> } | null {
  if (cached !== undefined) return cached
  cached = null
  const candidates: [string, () => string][] = [
    [`/boot/config-${os.release()}`, () => fs.readFileSync(`/boot/config-${os.release()}`, 'utf8')],
    ['/proc/config.gz', () => zlib.gunzipSync(fs.readFileSync('/proc/config.gz')).toString('utf8')],
    [`/lib/modules/${os.release()}/config`, () => fs.readFileSync(`/lib/modules/${os.release()}/config`, 'utf8')],
  ]
  for (const [source, read] of candidates) {
    try {
      const options = new Map<string, string>()
      for (const m of read().matchAll(/^(CONFIG_\w+)=(.*)$/gm)) options.set(m[1]!, m[2]!)
      return (cached = { source, options })
    } catch {
      /* next */
    }
  }
  return cached
}

/** "CONFIG_X=y", "CONFIG_X is not set", or undefined when the config cannot be read. */
export function configFact(option: string): { set: boolean; text: string } | undefined {
  const cfg = kernelConfig()
  if (!cfg) return undefined
  const v = cfg.options.get(option)
  return v === undefined || v === 'n' ? { set: false, text: `${option} is not set` } : { set: true, text: `${option}=${v}` }
}

/** The active LSMs (/sys/kernel/security/lsm, securityfs), or undefined when unreadable. */
export function activeLsms(): string[] | undefined {
  try {
    return fs.readFileSync('/sys/kernel/security/lsm', 'utf8').trim().split(',')
  } catch {
    return undefined
  }
}
