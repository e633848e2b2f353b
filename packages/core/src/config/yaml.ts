/** YAML configs: faultline's own shape, or Minderbinder's (detected by `agents_of_chaos`). */
import fs from 'node:fs'
import { parseDocument } from 'yaml'
import type { FailureConfig } from './types.js'
import { ConfigError } from './errors.js'
import { validateConfig } from './validate.js'
import { fromMinderbinder, isMinderbinder } from './minderbinder.js'

export function parseConfig(text: string, source?: string): FailureConfig {
  const doc = parseDocument(text)
  if (doc.errors.length) {
    throw new ConfigError(
      doc.errors.map((e) => ({ path: '', message: `YAML line ${e.linePos?.[0]?.line ?? '?'}, column ${e.linePos?.[0]?.col ?? '?'}: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}` })),
      source,
    )
  }
  const value: unknown = doc.toJS()
  return isMinderbinder(value) ? fromMinderbinder(value, source) : validateConfig(value ?? {}, source)
}

export function loadConfigSync(path: string): FailureConfig {
  let text: string
  try {
    text = fs.readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError([{ path: '', message: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }], path)
  }
  return parseConfig(text, path)
}

export async function loadConfig(path: string): Promise<FailureConfig> {
  return loadConfigSync(path)
}
