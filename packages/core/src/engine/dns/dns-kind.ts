/**
 * DNS faults by name (config.dns, config/dns.ts): the network family's socket marking and TC
 * programs serve them too (net.bpf.c runs bpf/include/dns_fault.h on the targets' egress packets
 * to port 53), on every interface that is up, since the resolver may be behind any. This kind adds
 * their own maps (dns-layout.ts), written in the carrier's write step and cleared at clear.
 */
import createDebug from 'debug'
import type { BpfObject } from '../../libbpf/index.js'
import type { NetKind } from '../network/net-kind.js'
import { clearDnsRules, readDnsCounters, writeDnsRules } from './dns-layout.js'

const debug = createDebug('faultline:dns')

export const dnsKind: NetKind = {
  name: 'dns',
  actions: [],
  hasOutsideRules: (config) => config.dns.length > 0,
  refuseOutside: (config, reason) => config.dns.map((r) => ({ path: r.path, name: r.name, reason: `DNS rules act in the TC programs: ${reason}` })),
  arm(config, inst, _own, mechanism) {
    if (!config.dns.length) return undefined
    let net: BpfObject | undefined
    return {
      rules: config.dns.map((r, i) => ({ name: r.name, syscall: `dns:${r.answer}`, mechanism, read: () => readDnsCounters(inst.fault('net'), i) })),
      prepare(_tx, carrier) {
        net = carrier.net
      },
      write: (armedNs) => writeDnsRules(net!, config.dns, armedNs),
      clear() {
        try {
          if (net) clearDnsRules(net, config.dns.length)
        } catch (err) {
          debug('clear the DNS maps: %s', (err as Error).message)
        }
      },
    }
  },
}
