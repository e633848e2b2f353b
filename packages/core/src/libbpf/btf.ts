/** The running kernel's BTF, parsed once (about 10 ms), to ask whether a function has a BTF id:
 * fmod_ret can only attach to functions that do (some syscall wrappers have none). */
import { getNative } from './native.js'

const BTF_KIND_FUNC = 12
let vmlinux: bigint | null | undefined

/** The function's BTF type id in the kernel's BTF: > 0, 0 when it has none, undefined when the kernel BTF cannot be read. */
export function kernelBtfFuncId(name: string): number | undefined {
  const { lib } = getNative()
  if (vmlinux === undefined) vmlinux = lib.btf__load_vmlinux_btf()
  if (!vmlinux) return undefined
  return Math.max(0, lib.btf__find_by_name_kind(vmlinux, name, BTF_KIND_FUNC))
}

/** true/false, or undefined when the kernel BTF cannot be read. */
export function kernelBtfHasFunc(name: string): boolean | undefined {
  const id = kernelBtfFuncId(name)
  return id === undefined ? undefined : id > 0
}
