/**
 * State that must exist once per process even when the core is evaluated more than once: the
 * ESM and CommonJS builds side by side, or Jest, which evaluates every module again in each test
 * file's realm (with its own globalThis and `process`). koffi's type names are process-wide, and
 * reporters must hear about every arming. The slot lives on a Node builtin module's object,
 * which every realm shares (Jest hands tests the real builtins).
 */
import util from 'node:util'

const SLOTS = Symbol.for('faultline.process-slots')

export function processSlot<T>(name: string, create: () => T): T {
  const holder = util as unknown as { [SLOTS]?: Map<string, unknown> }
  const slots = (holder[SLOTS] ??= new Map())
  if (!slots.has(name)) slots.set(name, create())
  return slots.get(name) as T
}
