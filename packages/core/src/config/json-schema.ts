/**
 * The JSON Schema of a config file (for editors: `# yaml-language-server: $schema=...`), built
 * from the validator's own tables: its key lists, enums and limits are the ones validate.ts,
 * network.ts and minderbinder.ts check against, and `props` refuses a key list and a schema that
 * disagree, so a key added to the validator without a schema (or the reverse) fails the build.
 * What a schema cannot say (unique names across rules, CIDR host bits, a match filter on a call
 * it cannot apply to, ...) stays in the validator only; test/unit/schema.test.ts checks the two
 * agree on the whole bad-config corpus and every example config.
 *
 * Why not TypeBox or zod as the source: the validator's messages (did you mean, the allowed
 * values, the fix for a CIDR) are its point, and @faultline/core keeps no runtime dependency
 * for it; the tables are already the single source.
 */
import { errnoNames, MAX_ERRNO } from './errno.js'
import { MAX_COUNT, MAX_NAME_LENGTH } from './describe.js'
import { MAX_DURATION_MS } from './duration.js'
import { DELAY_MAX_MS, DELAY_MIN_MS, DELAY_UNSUPPORTED_MATCH, NO_RETURN_SYSCALLS } from './delay.js'
import { allSyscallNames } from './syscalls.js'
import { COMM_MAX, LIMITS, MATCH_KEYS, OPEN_FLAGS, RULE_KEYS, SCOPES, TARGET_KEYS, TOP_KEYS, WHEN_KEYS } from './validate.js'
import { MECHANISMS } from './mechanisms.js'
import { IFNAME_MAX, NET_ACTIONS, NET_DIRECTIONS, NET_KEYS, NET_MECHANISMS, NET_PROTOCOLS, NET_WHEN_KEYS, RATE_UNITS } from './network.js'
import { MB_NETWORK_KEYS, MB_SYSCALL_KEYS } from './minderbinder.js'
import { CORRUPT_KEYS, CORRUPT_MAX_BYTES, CORRUPT_SYSCALLS } from './corrupt.js'
import { DNS_ANSWERS, DNS_KEYS, DNS_NAME_MAX, DNS_WHEN_KEYS } from './dns.js'

type Schema = Record<string, unknown>

/** An object schema whose properties are exactly `keys` (the validator's list for that object). */
function props(where: string, keys: readonly string[], properties: Record<string, Schema>, extra: Schema = {}): Schema {
  const missing = keys.filter((k) => !(k in properties))
  const unknown = Object.keys(properties).filter((k) => !keys.includes(k))
  if (missing.length || unknown.length) throw new Error(`json-schema ${where}: the validator's keys and the schema differ (no schema for: ${missing.join(', ') || '-'}; not a key: ${unknown.join(', ') || '-'})`)
  return { type: 'object', additionalProperties: false, properties, ...extra }
}

const text = (description: string, extra: Schema = {}): Schema => ({ type: 'string', minLength: 1, description, ...extra })
const int = (minimum: number, maximum: number, description: string): Schema => ({ type: 'integer', minimum, maximum, description })
const comm: Schema = text('a process name (the kernel keeps 15 bytes)', { maxLength: COMM_MAX })
const port = int(1, 65535, 'a port')
const durationText: Schema = { type: 'string', pattern: '^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h)?\\s*$' }
const duration: Schema = {
  description: 'ms as a number, or a string such as "250ms", "2s", "1m"',
  anyOf: [{ type: 'number', minimum: 0, maximum: MAX_DURATION_MS }, durationText],
}
const probability: Schema = { type: 'number', minimum: 0, maximum: 1, description: '0..1 (0.3 = 30 %)' }
const seed: Schema = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'makes probability deterministic' }
const address: Schema = text('an IP address or CIDR, e.g. "10.0.0.0/8", "::1"', { pattern: '^[0-9a-fA-F:.]+(/\\d{1,3})?$' })
const glob: Schema = text('a glob (* within a directory, ** across, ? one character), at most 127 bytes', { maxLength: 127 })

function syscallRule(): Schema {
  return props(
    'syscalls[]',
    RULE_KEYS,
    {
      name: text('unique rule name', { pattern: '\\S', maxLength: MAX_NAME_LENGTH }),
      syscall: { enum: allSyscallNames().sort(), description: 'a Linux syscall name' },
      errno: { description: 'errno name or 1..4095', anyOf: [{ enum: errnoNames() }, int(1, MAX_ERRNO, 'errno number')] },
      ret: int(-MAX_ERRNO, -1, 'raw negative return value'),
      delay: { anyOf: [{ type: 'number', minimum: DELAY_MIN_MS, maximum: DELAY_MAX_MS }, durationText], description: `instead of errno/ret: the call returns this much later, ${DELAY_MIN_MS}ms..${DELAY_MAX_MS / 1000}s (the whole process pauses; needs target scope children)` },
      jitter: { ...duration, description: 'with delay: the pause is uniform in delay +- jitter (jitter <= delay)' },
      match: props('match', MATCH_KEYS, {
        port,
        address,
        family: { enum: ['inet', 'inet6', 4, 6] },
        path: glob,
        fd: glob,
        flags: { type: 'array', minItems: 1, items: { enum: OPEN_FLAGS } },
      }, { not: { required: ['path', 'fd'] } }),
      when: props('when', WHEN_KEYS, { after: duration, nth: int(1, MAX_COUNT, 'only the nth matching call'), times: int(1, MAX_COUNT, 'at most this many'), probability, seed }, { dependencies: { seed: ['probability'] } }),
      mechanism: { enum: [...MECHANISMS] },
      corrupt: props('corrupt', CORRUPT_KEYS, {
        bytes: int(1, CORRUPT_MAX_BYTES, 'bytes flipped per corrupted read'),
        seed: { ...seed, description: 'which bytes are flipped, and how (default 0)' },
      }, { required: ['bytes'] }),
    },
    {
      required: ['name', 'syscall'],
      oneOf: [{ required: ['errno'] }, { required: ['ret'] }, { required: ['delay'] }, { required: ['corrupt'] }],
      dependencies: { jitter: ['delay'] },
      allOf: [
        {
          // corrupt: only on the read calls, and only under a match.path glob
          if: { required: ['corrupt'] },
          then: { properties: { syscall: { enum: CORRUPT_SYSCALLS }, match: { required: ['path'] }, mechanism: { const: 'fexit-corrupt' } }, required: ['match'] },
          else: { properties: { mechanism: { not: { const: 'fexit-corrupt' } } } },
        },
        {
          // What a delay rule cannot take (config/delay.ts says why).
          if: { required: ['delay'] },
          then: {
            not: { required: ['mechanism'] },
            properties: {
              syscall: { not: { enum: NO_RETURN_SYSCALLS } },
              match: { properties: Object.fromEntries(Object.keys(DELAY_UNSUPPORTED_MATCH).map((k) => [k, false])) },
            },
          },
        },
      ],
    },
  )
}

function networkRule(): Schema {
  const rate: Schema = text('bits per second with a unit, at least 8kbit', { pattern: `^\\d+(\\.\\d+)?\\s*(${Object.keys(RATE_UNITS).join('|')})$` })
  const ifname: Schema = text('an interface name', { maxLength: IFNAME_MAX, pattern: '^[^/:\\s]+$', not: { enum: ['.', '..'] } })
  const hosts: Schema = { type: 'array', items: text('an IP, a CIDR or a host name', { pattern: '^[0-9a-zA-Z:./-]+$' }) }
  return props(
    'network[]',
    NET_KEYS,
    {
      name: text('unique rule name', { pattern: '\\S', maxLength: MAX_NAME_LENGTH }),
      action: { enum: [...NET_ACTIONS] },
      direction: { enum: [...NET_DIRECTIONS] },
      protocol: { enum: [...NET_PROTOCOLS] },
      port,
      ports: { type: 'array', items: port, maxItems: 8 },
      hosts,
      allow: hosts,
      interface: {
        description: "an interface name, a list of them, or '*' (every interface that is up)",
        anyOf: [
          { const: '*' },
          ifname,
          { type: 'array', minItems: 1, items: ifname },
        ],
      },
      stolen: { type: 'boolean', description: 'drop only: report success to the sender' },
      delay: duration,
      jitter: duration,
      rate,
      when: props('network when', NET_WHEN_KEYS, { after: duration, nth: int(1, MAX_COUNT, 'only the nth matching connection (flow)'), times: int(1, MAX_COUNT, 'at most this many'), probability, seed }, { dependencies: { seed: ['probability'] } }),
      comm: { type: 'array', minItems: 1, items: comm },
      mechanism: { enum: [...NET_MECHANISMS] },
      after_bytes: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'reset only: payload bytes (in the rule\'s directions) after which the connection is reset' },
    },
    {
      required: ['name', 'action'],
      allOf: [
        { not: { required: ['port', 'ports'] } },
        { if: { properties: { action: { const: 'delay' } }, required: ['action'] }, then: { required: ['delay'] }, else: { properties: { delay: false, jitter: false } } },
        { if: { properties: { action: { const: 'bandwidth' } }, required: ['action'] }, then: { required: ['rate'] } },
        { if: { properties: { action: { enum: ['bandwidth', 'delay'] } }, required: ['action'] }, else: { properties: { rate: false } } },
        { if: { properties: { action: { const: 'drop' } }, required: ['action'] }, else: { properties: { stolen: false } } },
        {
          if: { properties: { action: { const: 'reset' } }, required: ['action'] },
          then: { properties: { protocol: { const: 'tcp' }, when: { properties: { probability: false, seed: false } } } },
          else: { properties: { after_bytes: false } },
        },
      ],
    },
  )
}

function dnsRule(): Schema {
  return props('dns[]', DNS_KEYS, {
    name: text('a DNS name or glob: "api.example.com", "*.example.com" (* any run of characters, dots included; ? one)', {
      maxLength: DNS_NAME_MAX + 1,
      pattern: '^[a-zA-Z0-9_*?-]{1,63}(\\.[a-zA-Z0-9_*?-]{1,63})*\\.?$',
    }),
    answer: { enum: [...DNS_ANSWERS], description: 'nxdomain, servfail: an answer with that RCODE; timeout: the query is dropped' },
    when: props('dns when', DNS_WHEN_KEYS, { after: duration, times: int(1, MAX_COUNT, 'at most this many'), probability, seed }, { dependencies: { seed: ['probability'] } }),
  }, { required: ['name', 'answer'] })
}

function minderbinder(): Schema {
  const targets = { type: 'array', minItems: 1, items: { type: 'object', required: ['process_name'], properties: { process_name: comm } } }
  const percent = { type: 'number', minimum: 0, maximum: 100 }
  const delay = { type: 'number', minimum: 0 }
  return props('root (Minderbinder)', ['agents_of_chaos'], {
    agents_of_chaos: props('agents_of_chaos', ['syscall', 'outgoing_network'], {
      syscall: {
        type: 'array',
        items: props('agents_of_chaos.syscall[]', MB_SYSCALL_KEYS, {
          name: text('rule name'), syscall: { enum: allSyscallNames().sort() }, ret_code: int(-MAX_ERRNO, -1, 'negative errno'), targets, delay_ms: delay, failure_rate: percent,
        }, { required: ['name', 'syscall', 'ret_code', 'targets'] }),
      },
      outgoing_network: {
        type: 'array',
        items: props('agents_of_chaos.outgoing_network[]', MB_NETWORK_KEYS, { name: text('rule name'), targets, delay_ms: delay, failure_rate: percent }, { required: ['name', 'targets'] }),
      },
    }),
  }, { required: ['agents_of_chaos'] })
}

/** The JSON Schema (draft-07) of faultline's config files, and of Minderbinder's. */
export function configJsonSchema(): Schema {
  const faultline = props('root', TOP_KEYS, {
    target: props('target', TARGET_KEYS, { scope: { enum: [...SCOPES] }, comm: { type: 'array', items: comm, maxItems: LIMITS.comms } }, {
      if: { properties: { scope: { const: 'system' } }, required: ['scope'] },
      then: { required: ['comm'], properties: { comm: { minItems: 1 } } },
    }),
    syscalls: { type: 'array', items: syscallRule(), maxItems: LIMITS.syscallRules },
    network: { type: 'array', items: networkRule(), maxItems: LIMITS.networkRules },
    dns: { type: 'array', items: dnsRule(), maxItems: LIMITS.dnsRules },
  }, { not: { required: ['agents_of_chaos'] } })
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'faultline config',
    description: "A faultline config (target, syscalls, network, dns) or Minderbinder's agents_of_chaos YAML",
    oneOf: [faultline, minderbinder()],
  }
}
