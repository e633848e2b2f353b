/**
 * A veth pair into a network namespace the test creates: `hostIf` here with `<net>.<n>.1/30`,
 * the peer in `ns` with `<net>.<n>.2`, so the route to the peer leaves by a real interface (not
 * lo) and needs no network beyond the machine (the VM matrix runs with -nic none). Named after
 * the worker's pid, so a pair whose worker is gone (killed before its afterAll) is told and removed.
 *
 *   const pair = vethNamespace('fl-ns', 'flv', '10.213'); beforeAll(pair.create); afterAll(pair.remove)
 */
import { execSync } from 'node:child_process'
import fs from 'node:fs'

export interface VethNamespace {
  ns: string
  hostIf: string
  peerIf: string
  peer: string
  create(): void
  remove(): void
}

/** `nsPrefix`: the namespace's name before "-<pid>"; `ifPrefix`: three letters for the devices; `net`: the first two octets. */
export function vethNamespace(nsPrefix: string, ifPrefix: string, net: string): VethNamespace {
  const nsOf = (pid: number | string) => `${nsPrefix}-${pid}`
  const hostIfOf = (pid: number | string) => `${ifPrefix}${Number(pid) % 10000}a`
  const removePair = (pid: number | string) => execSync(`ip link del ${hostIfOf(pid)} 2>/dev/null; ip netns del ${nsOf(pid)} 2>/dev/null; true`)
  const sh = (cmd: string) => execSync(cmd, { stdio: 'pipe' })
  const subnet = `${net}.${process.pid % 200}`
  const ns = nsOf(process.pid)
  const hostIf = hostIfOf(process.pid)
  const peerIf = `${ifPrefix}${process.pid % 10000}b`
  let ready = false
  return {
    ns,
    hostIf,
    peerIf,
    peer: `${subnet}.2`,
    create() {
      for (const [, pid] of execSync('ip netns list', { encoding: 'utf8' }).matchAll(new RegExp(`^${nsPrefix}-(\\d+)`, 'gm'))) {
        if (!fs.existsSync(`/proc/${pid}`)) removePair(pid!)
      }
      sh(`ip netns add ${ns}`)
      sh(`ip link add ${hostIf} type veth peer name ${peerIf}`)
      sh(`ip link set ${peerIf} netns ${ns}`)
      sh(`ip addr add ${subnet}.1/30 dev ${hostIf} && ip link set ${hostIf} up`)
      sh(`ip netns exec ${ns} sh -c 'ip addr add ${subnet}.2/30 dev ${peerIf} && ip link set ${peerIf} up && ip link set lo up'`)
      ready = true
    },
    remove() {
      if (ready) removePair(process.pid)
      ready = false
    },
  }
}
