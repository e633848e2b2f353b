#!/usr/bin/env node
// npm run vm -- --kernel <name> [--timeout S] [--mem 2G] [--verbose] -- <command...>
import { runInVm } from './run-vm.mjs'
import { KERNELS } from './kernels.mjs'

const args = process.argv.slice(2)
const sep = args.indexOf('--')
const opts = sep >= 0 ? args.slice(0, sep) : args
const argv = sep >= 0 ? args.slice(sep + 1) : []
const get = (flag) => { const i = opts.indexOf(flag); return i >= 0 ? opts[i + 1] : undefined }
const kernel = get('--kernel')
if (!kernel || argv.length === 0) {
  console.error(`usage: npm run vm -- --kernel <${Object.keys(KERNELS).join('|')}> [--timeout S] [--mem 2G] [--verbose] -- <command...>`)
  process.exit(2)
}
try {
  const r = await runInVm(kernel, argv, { timeout: Number(get('--timeout') ?? 600), mem: get('--mem'), verbose: opts.includes('--verbose') })
  if (process.env.FL_VM_TIMING) console.error(`vm: ${kernel}: exit ${r.status} after ${(r.ms / 1000).toFixed(1)} s`)
  process.exit(r.status)
} catch (err) {
  console.error(err.message)
  process.exit(2)
}
