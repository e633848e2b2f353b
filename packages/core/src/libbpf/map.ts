/** A loaded BPF map, read and written by fd with raw key/value bytes. */
import { getNative, type MapPtr } from './native.js'
import { LibbpfError } from './errors.js'

/** bpf_map_update_elem flags. */
export const BPF_ANY = 0n
export const BPF_NOEXIST = 1n
export const BPF_EXIST = 2n

const ENOENT = 2

export class BpfMap {
  readonly keySize: number
  readonly valueSize: number
  constructor(
    readonly ptr: MapPtr,
    readonly name: string,
  ) {
    const { lib } = getNative()
    this.keySize = lib.bpf_map__key_size(ptr)
    this.valueSize = lib.bpf_map__value_size(ptr)
  }

  private createdFd = -1

  /** The map's fd; once the map exists it never changes, so it is asked of libbpf once. */
  get fd(): number {
    if (this.createdFd >= 0) return this.createdFd
    const fd = getNative().lib.bpf_map__fd(this.ptr)
    if (fd < 0) throw new LibbpfError(`map ${this.name} is not created`, -fd)
    return (this.createdFd = fd)
  }

  update(key: Buffer, value: Buffer, flags = BPF_ANY): void {
    this.checkSizes(key, value)
    const err = getNative().lib.bpf_map_update_elem(this.fd, key, value, flags)
    if (err < 0) throw new LibbpfError(`update map ${this.name}`, -err)
  }

  lookup(key: Buffer): Buffer | undefined {
    const value = Buffer.alloc(this.valueSize)
    const err = getNative().lib.bpf_map_lookup_elem(this.fd, key, value)
    if (err === -ENOENT) return undefined
    if (err < 0) throw new LibbpfError(`lookup in map ${this.name}`, -err)
    return value
  }

  /** Returns false when the key was not there. */
  delete(key: Buffer): boolean {
    const err = getNative().lib.bpf_map_delete_elem(this.fd, key)
    if (err === -ENOENT) return false
    if (err < 0) throw new LibbpfError(`delete from map ${this.name}`, -err)
    return true
  }

  keys(): Buffer[] {
    const { lib } = getNative()
    const out: Buffer[] = []
    let prev: Buffer | null = null
    for (;;) {
      const next = Buffer.alloc(this.keySize)
      const err = lib.bpf_map_get_next_key(this.fd, prev, next)
      if (err === -ENOENT) return out
      if (err < 0) throw new LibbpfError(`iterate map ${this.name}`, -err)
      out.push(next)
      prev = next
    }
  }

  /** Deletes every key (hash maps). */
  clear(): void {
    for (const k of this.keys()) this.delete(k)
  }

  private checkSizes(key: Buffer, value: Buffer): void {
    if (key.length !== this.keySize || value.length !== this.valueSize) {
      throw new Error(
        `map ${this.name}: key/value of ${key.length}/${value.length} bytes, expected ${this.keySize}/${this.valueSize}`,
      )
    }
  }
}
