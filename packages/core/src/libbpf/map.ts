/** A loaded BPF map, read and written by fd with raw key/value bytes. */
import { getNative, type MapPtr } from './native.js'
import { LibbpfError } from './errors.js'

/** bpf_map_update_elem flags. */
export const BPF_ANY = 0n
export const BPF_NOEXIST = 1n
export const BPF_EXIST = 2n

const ENOENT = 2

/**
 * Map operations by fd, with raw key/value bytes: a map known only by its fd (inherited from the
 * process that loaded it, as the delay resumer's are), and the base of BpfMap.
 */
export class FdMap {
  constructor(
    private readonly knownFd: number,
    readonly keySize: number,
    readonly valueSize: number,
    /** How errors name the map. */
    protected readonly label = `map fd ${knownFd}`,
  ) {}

  get fd(): number {
    return this.knownFd
  }

  update(key: Buffer, value: Buffer, flags = BPF_ANY): void {
    const err = getNative().lib.bpf_map_update_elem(this.fd, key, value, flags)
    if (err < 0) throw new LibbpfError(`update ${this.label}`, -err)
  }

  lookup(key: Buffer): Buffer | undefined {
    const value = Buffer.alloc(this.valueSize)
    const err = getNative().lib.bpf_map_lookup_elem(this.fd, key, value)
    if (err === -ENOENT) return undefined
    if (err < 0) throw new LibbpfError(`lookup in ${this.label}`, -err)
    return value
  }

  /** Returns false when the key was not there. */
  delete(key: Buffer): boolean {
    const err = getNative().lib.bpf_map_delete_elem(this.fd, key)
    if (err === -ENOENT) return false
    if (err < 0) throw new LibbpfError(`delete from ${this.label}`, -err)
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
      if (err < 0) throw new LibbpfError(`iterate ${this.label}`, -err)
      out.push(next)
      prev = next
    }
  }

  /** Deletes every key (hash maps). */
  clear(): void {
    for (const k of this.keys()) this.delete(k)
  }
}

/** A map of a loaded BpfObject: its fd is asked of libbpf, and writes check the sizes. */
export class BpfMap extends FdMap {
  constructor(
    readonly ptr: MapPtr,
    readonly name: string,
  ) {
    const { lib } = getNative()
    super(-1, lib.bpf_map__key_size(ptr), lib.bpf_map__value_size(ptr), `map ${name}`)
  }

  private createdFd = -1

  /** The map's fd; once the map exists it never changes, so it is asked of libbpf once. */
  override get fd(): number {
    if (this.createdFd >= 0) return this.createdFd
    const fd = getNative().lib.bpf_map__fd(this.ptr)
    if (fd < 0) throw new LibbpfError(`map ${this.name} is not created`, -fd)
    return (this.createdFd = fd)
  }

  override update(key: Buffer, value: Buffer, flags = BPF_ANY): void {
    this.checkSizes(key, value)
    super.update(key, value, flags)
  }

  private checkSizes(key: Buffer, value: Buffer): void {
    if (key.length !== this.keySize || value.length !== this.valueSize) {
      throw new Error(
        `map ${this.name}: key/value of ${key.length}/${value.length} bytes, expected ${this.keySize}/${this.valueSize}`,
      )
    }
  }
}
