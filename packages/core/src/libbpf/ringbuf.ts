/**
 * A BPF ring buffer read through libbpf (ring_buffer__new/poll), and the few raw-fd map calls
 * a helper process needs when it holds a map's fd but not its object (engine/delay/delay-resumer.ts).
 */
import { getNative, type RingBufferPtr } from './native.js'
import { LibbpfError } from './errors.js'
import { FdMap } from './map.js'

const EINTR = 4

export class RingBuffer {
  private readonly rb: RingBufferPtr
  private readonly cb: unknown

  /** `onSample` gets a copy of each record; it must not throw (a throw inside a native callback is lost). */
  constructor(mapFd: number, onSample: (data: Buffer) => void) {
    const { lib, koffi, sampleProto } = getNative()
    this.cb = koffi.register((_ctx: unknown, data: unknown, size: number | bigint) => {
      try {
        const bytes = koffi.decode(data, koffi.array('uint8_t', Number(size), 'Typed')) as Uint8Array
        onSample(Buffer.from(bytes))
      } catch {
        /* a bad record is skipped; the next ones still come */
      }
      return 0
    }, koffi.pointer(sampleProto))
    const rb = lib.ring_buffer__new(mapFd, this.cb, null, null)
    if (!rb) {
      koffi.unregister(this.cb as never)
      throw new LibbpfError(`open ring buffer of map fd ${mapFd}`, koffi.errno())
    }
    this.rb = rb
  }

  /** Waits up to `timeoutMs` for records and hands each to onSample; returns how many. */
  poll(timeoutMs: number): number {
    const n = getNative().lib.ring_buffer__poll(this.rb, Math.max(0, Math.min(timeoutMs, 2 ** 31 - 1)))
    if (n < 0 && -n !== EINTR) throw new LibbpfError('poll ring buffer', -n)
    return Math.max(n, 0)
  }

  free(): void {
    const { lib, koffi } = getNative()
    lib.ring_buffer__free(this.rb)
    koffi.unregister(this.cb as never)
  }
}

/** Whether `fd` (a pipe whose writer never writes) has hung up or become readable, without waiting. */
export function fdHungUp(fd: number): boolean {
  const pfd = Buffer.alloc(8)
  pfd.writeInt32LE(fd, 0)
  pfd.writeInt16LE(0x001 /* POLLIN */, 4)
  const n = getNative().libc.poll(pfd, 1, 0)
  if (n <= 0) return false
  const revents = pfd.readInt16LE(6)
  return (revents & (0x010 /* POLLHUP */ | 0x008 /* POLLERR */ | 0x020 /* POLLNVAL */ | 0x001)) !== 0
}

export { FdMap }
