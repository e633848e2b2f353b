/** YAML configs: faultline's own shape, or Minderbinder's (detected by `agents_of_chaos`). */
import fs from 'node:fs'
import { createRequire } from 'node:module'
import type { Document, LineCounter, Node } from 'yaml'
import type { FailureConfig } from './types.js'
import { ConfigError, type ConfigIssue } from './errors.js'
import { validateConfig } from './validate.js'
import { fromMinderbinder, isMinderbinder } from './minderbinder.js'

type Yaml = typeof import('yaml')
let yaml: Yaml | undefined

/** The yaml library, loaded at the first YAML text: an object config never pays its ~25 ms load. */
function yamlLib(): Yaml {
  // The CommonJS bundle has require (and no import.meta.url); the ESM build makes one.
  yaml ??= (typeof require === 'function' ? require : createRequire(import.meta.url))('yaml') as Yaml
  return yaml
}

/**
 * `prepare` sees the document's value before validation (not a Minderbinder one): the CLI's run
 * sets its target there, so that checks that depend on the target (a delay rule on the caller)
 * judge the config it will arm.
 */
export function parseConfig(text: string, source?: string, prepare: (value: unknown) => unknown = (v) => v): FailureConfig {
  const { LineCounter, parseDocument } = yamlLib()
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter })
  const tooDeep = doc.errors.find((e) => /call stack/i.test(e.message))
  if (tooDeep) {
    // Nested deeper than the yaml library's recursion allows. JSON text (YAML 1.2 reads it) is
    // parsed without recursion, so its field errors still name their path; other text is refused.
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      const at = tooDeep.linePos?.[0]
      throw new ConfigError(
        [{ path: '', message: `YAML line ${at?.line ?? '?'}, column ${at?.col ?? '?'}: nested too deeply to read (a config needs a few levels)`, ...(at ? { line: at.line, column: at.col } : {}) }],
        source,
      )
    }
    return isMinderbinder(json) ? fromMinderbinder(json, source) : validateConfig(prepare(json), source)
  }
  if (doc.errors.length) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const at = e.linePos?.[0]
        return {
          path: '',
          message: `YAML line ${at?.line ?? '?'}, column ${at?.col ?? '?'}: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
          ...(at ? { line: at.line, column: at.col } : {}),
        }
      }),
      source,
    )
  }
  const value: unknown = doc.toJS()
  if (value === null || value === undefined) {
    throw new ConfigError([{ path: '', message: 'the document is empty: a config needs syscalls: or network: (or agents_of_chaos:)' }], source)
  }
  try {
    return isMinderbinder(value) ? fromMinderbinder(value, source) : validateConfig(prepare(value), source)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    throw new ConfigError(err.issues.map((i) => locate(doc, lineCounter, i)), err.source)
  }
}

/** Splits 'syscalls[0].match.port' into ['syscalls', 0, 'match', 'port']. */
export function pathSegments(path: string): (string | number)[] {
  const out: (string | number)[] = []
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!)
  return out
}

/**
 * The issue with the line and column of its field: the value the path names (its key, for an
 * unknown key), or the deepest node of the path that exists (a missing field: its parent).
 */
function locate(doc: Document, lines: LineCounter, issue: ConfigIssue): ConfigIssue {
  const { isMap, isPair, isScalar, isSeq } = yamlLib()
  let node: unknown = doc.contents
  let at: Node | null | undefined = doc.contents
  const segments = pathSegments(issue.path)
  for (const [i, seg] of segments.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && (isScalar(p.key) ? p.key.value : p.key) === seg)
      if (!pair) break
      const last = i === segments.length - 1
      const key = pair.key as Node | null
      node = pair.value
      at = last && issue.message.startsWith('unknown key') ? key : ((pair.value as Node | null) ?? key)
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined
      if (!item) break
      node = item
      at = item
    } else break
  }
  const offset = at?.range?.[0]
  if (offset === undefined) return issue
  const pos = lines.linePos(offset)
  return { ...issue, line: pos.line, column: pos.col }
}

export function loadConfigSync(path: string, prepare?: (value: unknown) => unknown): FailureConfig {
  let text: string
  try {
    text = fs.readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError([{ path: '', message: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }], path)
  }
  return parseConfig(text, path, prepare)
}

export async function loadConfig(path: string): Promise<FailureConfig> {
  return loadConfigSync(path)
}
