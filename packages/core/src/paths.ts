/** Where @faultline/core's shipped files (the built BPF objects) are, from ESM or the CJS bundle. */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

declare const __FAULTLINE_CJS_DIRNAME__: string | undefined

function moduleDir(): string {
  // The CJS bundle defines this (esbuild --define); ESM has import.meta.url.
  if (typeof __FAULTLINE_CJS_DIRNAME__ === 'string') return __FAULTLINE_CJS_DIRNAME__
  return path.dirname(fileURLToPath(import.meta.url))
}

let root: string | undefined

/** The package root: the first directory upwards that holds package.json of @faultline/core. */
export function packageRoot(): string {
  if (root) return root
  for (let dir = moduleDir(); ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json')
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).name === '@faultline/core') return (root = dir)
    if (path.dirname(dir) === dir) throw new Error('faultline: cannot find the @faultline/core package root')
  }
}

/** The architectures @faultline/core ships BPF objects for (Node's process.arch names). */
export const BPF_ARCHES = ['x64', 'arm64'] as const
export type BpfArch = (typeof BPF_ARCHES)[number]

/** The BPF object directory for `arch`: the objects read the syscall's saved registers, whose layout is per architecture. */
export function bpfArch(arch: string = process.arch): BpfArch {
  if ((BPF_ARCHES as readonly string[]).includes(arch)) return arch as BpfArch
  throw new Error(`faultline: unsupported architecture "${arch}": BPF objects are built for ${BPF_ARCHES.join(' and ')} only`)
}

/** Path of a built BPF object for this machine, e.g. bpfObjectPath('sock') -> .../bpf/x64/sock.bpf.o. */
export function bpfObjectPath(name: string, arch: string = process.arch): string {
  const p = path.join(packageRoot(), 'bpf', bpfArch(arch), `${name}.bpf.o`)
  if (!fs.existsSync(p)) {
    throw new Error(`faultline: ${p} is missing: the package was installed without its BPF objects (run npm run build in a checkout)`)
  }
  return p
}
