/**
 * Whether this process runs in a container, from what needs no privilege: its namespaces
 * against the initial ones (whose inode numbers are fixed: PROC_PID_INIT_INO and friends in
 * include/linux/proc_ns.h), the seccomp mode in /proc/self/status, and the runtimes' marker files.
 * NSpid in /proc/self/status cannot tell: it lists the levels from the viewer's namespace down.
 */
import fs from 'node:fs'

const INIT_INO = { user: 0xeffffffd, pid: 0xeffffffc, cgroup: 0xeffffffb } as const

export interface ContainerInfo {
  /** An own pid or user namespace, or Kubernetes' environment. A runtime's marker file alone
   * (a VM image built from a container image keeps /.dockerenv) only names the runtime. */
  detected: boolean
  /** docker, podman, kubernetes; with "GitHub Actions" when $GITHUB_ACTIONS is set. */
  runtime?: string
  pidNamespace: boolean
  cgroupNamespace: boolean
  userNamespace: boolean
  /** /proc/self/status Seccomp: 0 disabled, 1 strict, 2 filter. */
  seccomp: 'disabled' | 'strict' | 'filter' | 'unknown'
  evidence: string[]
}

function ownNamespace(kind: keyof typeof INIT_INO): boolean | undefined {
  try {
    return fs.statSync(`/proc/self/ns/${kind}`).ino !== INIT_INO[kind]
  } catch {
    return undefined
  }
}

export function detectContainer(env: NodeJS.ProcessEnv = process.env): ContainerInfo {
  const evidence: string[] = []
  const pid = ownNamespace('pid') ?? false
  const cgroup = ownNamespace('cgroup') ?? false
  const user = ownNamespace('user') ?? false
  if (pid) evidence.push('own pid namespace (/proc/self/ns/pid is not the initial one)')
  if (cgroup) evidence.push('own cgroup namespace')
  if (user) evidence.push('own user namespace (rootless)')
  let runtime: string | undefined
  if (env.KUBERNETES_SERVICE_HOST) (runtime = 'kubernetes'), evidence.push('$KUBERNETES_SERVICE_HOST is set')
  else if (fs.existsSync('/run/.containerenv')) (runtime = 'podman'), evidence.push('/run/.containerenv exists')
  else if (fs.existsSync('/.dockerenv')) (runtime = 'docker'), evidence.push('/.dockerenv exists')
  const detected = pid || user || runtime === 'kubernetes'
  if (detected && env.GITHUB_ACTIONS === 'true') runtime = `GitHub Actions container job${runtime ? ` (${runtime})` : ''}`
  let seccomp: ContainerInfo['seccomp'] = 'unknown'
  try {
    const m = /^Seccomp:\s*(\d)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))
    seccomp = m ? (['disabled', 'strict', 'filter'] as const)[Number(m[1])] ?? 'unknown' : 'unknown'
  } catch {
    /* not Linux */
  }
  return { detected, ...(runtime ? { runtime } : {}), pidNamespace: pid, cgroupNamespace: cgroup, userNamespace: user, seccomp, evidence }
}

/**
 * The flags that give a container what faultline needs, for each way of running one. `seccomp`:
 * also relax seccomp (Docker's default profile allows bpf() and perf_event_open only with
 * CAP_SYS_ADMIN in many releases).
 */
export function containerRecipes(caps: readonly string[], seccomp: boolean): { docker: string; podman: string; githubActions: string; kubernetes: string; privileged: string } {
  const bare = caps.map((c) => c.replace(/^CAP_/, ''))
  const flags = [...bare.map((c) => `--cap-add ${c}`), ...(seccomp ? ['--security-opt seccomp=unconfined'] : [])].join(' ')
  return {
    docker: `docker run ${flags} ...`,
    podman: `podman run ${flags} ...`,
    githubActions: `container: { image: ..., options: ${flags} }`,
    kubernetes: `securityContext: { capabilities: { add: [${bare.join(', ')}] }${seccomp ? ', seccompProfile: { type: Unconfined }' : ''} }`,
    privileged: 'or everything: docker/podman run --privileged, options: --privileged, securityContext: { privileged: true }',
  }
}
