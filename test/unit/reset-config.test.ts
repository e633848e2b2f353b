/** Network rules with action reset: defaults, and the JSON Schema accepts what the validator does. */
import { describe, it, expect } from 'vitest'
import { createRequire } from 'node:module'
import { validateConfig } from '../../packages/core/src/config/index.js'
import { configJsonSchema } from '../../packages/core/src/config/json-schema.js'

const require = createRequire(import.meta.url)
const Ajv = require('ajv') as typeof import('ajv').default
const check = new Ajv({ allErrors: true, strict: false }).compile(configJsonSchema())

describe('action reset', () => {
  it('counts both directions over TCP unless told otherwise; after_bytes defaults to 0 (reset at when.after)', () => {
    const cfg = { network: [{ name: 'cut', action: 'reset', port: 5432, after_bytes: 65536 }, { name: 'later', action: 'reset', when: { after: '2s', times: 1 } }] }
    const [cut, later] = validateConfig(cfg).network
    expect(cut).toMatchObject({ action: 'reset', direction: 'both', protocol: 'tcp', ports: [5432], afterBytes: 65536 })
    expect(later).toMatchObject({ direction: 'both', protocol: 'tcp', afterBytes: 0, when: { afterMs: 2000, times: 1 } })
    expect(check(cfg), JSON.stringify(check.errors)).toBe(true)
  })

  it('keeps an explicit direction and protocol tcp', () => {
    const cfg = { network: [{ name: 'up', action: 'reset', direction: 'egress', protocol: 'tcp', after_bytes: 1 }] }
    expect(validateConfig(cfg).network[0]).toMatchObject({ direction: 'egress', protocol: 'tcp', afterBytes: 1 })
    expect(check(cfg)).toBe(true)
  })

  it('other actions have afterBytes 0', () => {
    expect(validateConfig({ network: [{ name: 'd', action: 'drop' }] }).network[0]!.afterBytes).toBe(0)
  })
})
