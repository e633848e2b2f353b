/**
 * The shipped JSON Schema and the validator agree: every example config passes both; every config
 * of the bad-config corpus is refused by the validator, and by the schema too unless the check is
 * one a JSON Schema cannot express (listed below with the reason, and the list cannot go stale:
 * a listed case the schema does refuse fails the test).
 */
import { describe, it, expect } from 'vitest'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { parse } from 'yaml'
import { configJsonSchema } from '../../packages/core/src/config/json-schema.js'
import { parseConfig, validateConfig } from '../../packages/core/src/config/index.js'
import { BAD_CONFIGS } from '../fixtures/bad-configs.js'

const require = createRequire(import.meta.url)
const Ajv = require('ajv') as typeof import('ajv').default
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const schema = configJsonSchema()
const check = new Ajv({ allErrors: true, strict: false }).compile(schema)

/** Checks only the validator makes, and why a schema cannot. */
const VALIDATOR_ONLY: Record<string, string> = {
  'duplicate names': 'names unique across rules',
  'network: name shared with a syscall rule': 'names unique across rules',
  'bad address': 'the value of each IPv4 byte',
  'bad prefix': 'a prefix length against the address family',
  'host bits past prefix': 'CIDR host bits',
  'network: bad host': 'a prefix length against the address family',
  'family contradicts address': 'one field against the parsed value of another',
  'port on socket()': 'which syscalls a match filter applies to',
  'path on connect': 'which syscalls a match filter applies to',
  'nth with times': 'times > 1 only beside nth',
  'network: rate below 8kbit': 'a rate converted across units',
  'network: rules pin different mechanisms': 'agreement between rules',
  'network: host name label starting with a hyphen': 'each label of a host name',
  'delay: on the caller itself': "a rule's field against the config's target",
  'delay: too long': 'a duration string converted across units',
  'delay: jitter above delay': 'one duration against another',
  'dns: name used twice': 'names unique across rules',
  'dns: name shared with a network rule': 'names unique across rules',
}

/** Every config the docs and fixtures show: YAML blocks of the READMEs, YAML files of the fixtures. */
function exampleConfigs(): [string, string][] {
  const out: [string, string][] = []
  for (const readme of ['README.md', 'packages/core/README.md', 'packages/vitest-plugin/README.md', 'packages/jest-environment/README.md']) {
    const text = fs.readFileSync(path.join(ROOT, readme), 'utf8')
    ;[...text.matchAll(/```yaml\n([\s\S]*?)```/g)].forEach((m, i) => {
      if (!/^\s*(target|syscalls|network|dns|agents_of_chaos):/m.test(m[1]!)) return // not a config (e.g. CI steps)
      out.push([`${readme} yaml block ${i + 1}`, m[1]!])
    })
  }
  const walk = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? (e.name === 'node_modules' ? [] : walk(path.join(dir, e.name))) : /\.ya?ml$/.test(e.name) ? [path.join(dir, e.name)] : []))
  for (const f of [...walk(path.join(ROOT, 'test/fixtures')), ...walk(path.join(ROOT, 'test/unit/fixtures')), ...walk(path.join(ROOT, 'examples'))]) {
    const text = fs.readFileSync(f, 'utf8')
    if (/^\s*(target|syscalls|network|dns|agents_of_chaos):/m.test(text)) out.push([path.relative(ROOT, f), text])
  }
  return out
}

describe('the JSON Schema agrees with the validator', () => {
  const examples = exampleConfigs()
  it('finds the example configs', () => expect(examples.length).toBeGreaterThanOrEqual(4))
  for (const [where, text] of examples) {
    it(`example ${where}: valid for both`, () => {
      expect(() => parseConfig(text, where)).not.toThrow()
      expect(check(parse(text)), JSON.stringify(check.errors)).toBe(true)
    })
  }
  for (const [what, input] of BAD_CONFIGS) {
    const only = VALIDATOR_ONLY[what]
    it(`bad config "${what}": refused by the validator${only ? ` (only: ${only})` : ' and the schema'}`, () => {
      expect(() => validateConfig(input)).toThrow()
      expect(check(input)).toBe(!!only)
    })
  }
  it('lists only corpus cases', () => {
    const names = new Set(BAD_CONFIGS.map(([w]) => w))
    expect(Object.keys(VALIDATOR_ONLY).filter((k) => !names.has(k))).toEqual([])
  })
  it('is the file shipped in @faultline/core (exports ./schema.json)', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'packages/core/package.json'), 'utf8')) as { exports: Record<string, string>; files: string[] }
    const shipped = path.join(ROOT, 'packages/core', pkg.exports['./schema.json']!)
    expect(JSON.parse(fs.readFileSync(shipped, 'utf8'))).toEqual(JSON.parse(JSON.stringify(schema)))
    expect(pkg.files).toContain('dist')
  })
})
