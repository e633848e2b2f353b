/** A BPF object file: open, adjust before load (reuse maps, skip programs), load, look up, close. */
import { getNative, type MapPtr, type ObjectPtr, type ProgramPtr } from './native.js'
import { LibbpfError } from './errors.js'
import { withLog } from './log.js'
import { BpfMap } from './map.js'
import { withSignalsHeld } from './signals.js'

export class BpfProgram {
  constructor(
    readonly ptr: ProgramPtr,
    readonly name: string,
    /** The ELF section, e.g. "cgroup/connect4": says how the program attaches. */
    readonly section: string,
  ) {}

  get fd(): number {
    const fd = getNative().lib.bpf_program__fd(this.ptr)
    if (fd < 0) throw new LibbpfError(`program ${this.name} is not loaded`, -fd)
    return fd
  }
}

export class BpfObject {
  private closed = false
  /** Maps by name: a map's pointer and sizes never change, and arming looks them up often. */
  private readonly maps = new Map<string, BpfMap>()
  private constructor(
    readonly ptr: ObjectPtr,
    readonly path: string,
  ) {}

  /** Opens (parses) an object file; nothing reaches the kernel until load(). */
  static open(path: string): BpfObject {
    const { lib, koffi } = getNative()
    const { result, log } = withLog(() => {
      const ptr = lib.bpf_object__open_file(path, null)
      return { ptr, errno: ptr ? 0 : koffi.errno() }
    })
    if (!result.ptr) throw new LibbpfError(`open BPF object ${path}`, result.errno || 22, log)
    return new BpfObject(result.ptr, path)
  }

  programs(): BpfProgram[] {
    const { lib } = getNative()
    const out: BpfProgram[] = []
    for (let p = lib.bpf_object__next_program(this.ptr, null); p; p = lib.bpf_object__next_program(this.ptr, p)) {
      out.push(new BpfProgram(p, lib.bpf_program__name(p), lib.bpf_program__section_name(p)))
    }
    return out
  }

  program(name: string): BpfProgram {
    const { lib } = getNative()
    const p = lib.bpf_object__find_program_by_name(this.ptr, name)
    if (!p) throw new LibbpfError(`${this.path}: no program named ${name}`, 2)
    return new BpfProgram(p, name, lib.bpf_program__section_name(p))
  }

  map(name: string): BpfMap {
    let m = this.maps.get(name)
    if (!m) this.maps.set(name, (m = new BpfMap(this.mapPtr(name), name)))
    return m
  }

  /** Before load: do not load this program (its type may be refused by this kernel). */
  setAutoload(program: string, autoload: boolean): void {
    const err = getNative().lib.bpf_program__set_autoload(this.program(program).ptr, autoload)
    if (err < 0) throw new LibbpfError(`set autoload of ${program}`, -err)
  }

  /** Before load: point the program at another attach function (fmod_ret/fentry/lsm targets). */
  setAttachTarget(program: string, func: string): void {
    const err = getNative().lib.bpf_program__set_attach_target(this.program(program).ptr, 0, func)
    if (err < 0) throw new LibbpfError(`set attach target of ${program} to ${func}`, -err)
  }

  /** Before load: use an already created map (shared with another object) instead of a new one. */
  reuseMap(name: string, fd: number): void {
    const err = getNative().lib.bpf_map__reuse_fd(this.mapPtr(name), fd)
    if (err < 0) throw new LibbpfError(`reuse map ${name} (fd ${fd}) in ${this.path}`, -err)
  }

  /** Before load: write the initial bytes of a map such as .rodata (const volatile config). */
  setInitialValue(map: string, data: Buffer): void {
    const err = getNative().lib.bpf_map__set_initial_value(this.mapPtr(map), data, data.length)
    if (err < 0) throw new LibbpfError(`set initial value of ${map}`, -err)
  }

  /** Creates the maps and loads the programs into the kernel. Errors carry the verifier log. */
  load(): void {
    const { lib } = getNative()
    // Signals held: one arriving during verification fails the load (libbpf/signals.ts).
    const { result: err, log } = withLog(() => withSignalsHeld(() => lib.bpf_object__load(this.ptr)))
    if (err < 0) throw new LibbpfError(`load BPF object ${this.path}`, -err, log.slice(-40))
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    getNative().lib.bpf_object__close(this.ptr)
  }

  private mapPtr(name: string): MapPtr {
    const m = getNative().lib.bpf_object__find_map_by_name(this.ptr, name)
    if (!m) throw new LibbpfError(`${this.path}: no map named ${name}`, 2)
    return m
  }
}
