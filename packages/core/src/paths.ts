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

/** Path of a built BPF object, e.g. bpfObjectPath('sock') -> .../bpf/sock.bpf.o. */
export function bpfObjectPath(name: string): string {
  const p = path.join(packageRoot(), 'bpf', `${name}.bpf.o`)
  if (!fs.existsSync(p)) {
    throw new Error(`faultline: ${p} is missing: the package was installed without its BPF objects (run npm run build in a checkout)`)
  }
  return p
}
