/**
 * The koffi declarations of the system libbpf (libbpf.so.1) and the few libc calls we need.
 * Nothing else in faultline calls koffi: every other module goes through the typed wrappers
 * of this folder. Loaded lazily, so importing @faultline/core never touches native code.
 */
import * as koffi from 'koffi'
import { LibbpfMissingError } from './errors.js'
import { processSlot } from '../process-slot.js'

/** A native pointer. koffi 3 returns pointers as BigInt; brands keep them from being mixed up. */
export type Ptr<Brand extends string> = bigint & { readonly __brand: Brand }
export type ObjectPtr = Ptr<'bpf_object'>
export type ProgramPtr = Ptr<'bpf_program'>
export type MapPtr = Ptr<'bpf_map'>
export type LinkPtr = Ptr<'bpf_link'>
export type RingBufferPtr = Ptr<'ring_buffer'>

/** The libbpf print callback: `int (*)(enum libbpf_print_level, const char *fmt, va_list ap)`. */
export type PrintFn = (level: number, fmt: bigint, ap: bigint) => number

export interface Libbpf {
  libbpf_major_version(): number
  libbpf_minor_version(): number
  libbpf_set_print(fn: unknown): unknown
  bpf_object__open_file(path: string, opts: null): ObjectPtr | null
  bpf_object__load(obj: ObjectPtr): number
  bpf_object__close(obj: ObjectPtr): void
  bpf_object__find_program_by_name(obj: ObjectPtr, name: string): ProgramPtr | null
  bpf_object__find_map_by_name(obj: ObjectPtr, name: string): MapPtr | null
  bpf_object__next_program(obj: ObjectPtr, prev: ProgramPtr | null): ProgramPtr | null
  bpf_object__next_map(obj: ObjectPtr, prev: MapPtr | null): MapPtr | null
  bpf_program__name(prog: ProgramPtr): string
  bpf_program__section_name(prog: ProgramPtr): string
  bpf_program__fd(prog: ProgramPtr): number
  bpf_program__set_autoload(prog: ProgramPtr, autoload: boolean): number
  bpf_program__attach(prog: ProgramPtr): LinkPtr | null
  bpf_program__attach_cgroup(prog: ProgramPtr, cgroupFd: number): LinkPtr | null
  bpf_program__attach_kprobe(prog: ProgramPtr, retprobe: boolean, func: string): LinkPtr | null
  bpf_program__attach_trace(prog: ProgramPtr): LinkPtr | null
  bpf_program__attach_lsm(prog: ProgramPtr): LinkPtr | null
  bpf_program__set_attach_target(prog: ProgramPtr, attachProgFd: number, func: string | null): number
  bpf_program__attach_iter(prog: ProgramPtr, opts: null): LinkPtr | null
  bpf_iter_create(linkFd: number): number
  bpf_map__name(map: MapPtr): string
  bpf_map__fd(map: MapPtr): number
  bpf_map__reuse_fd(map: MapPtr, fd: number): number
  bpf_map__set_initial_value(map: MapPtr, data: Buffer, size: number): number
  bpf_map__value_size(map: MapPtr): number
  bpf_map__key_size(map: MapPtr): number
  bpf_map__max_entries(map: MapPtr): number
  bpf_link__destroy(link: LinkPtr): number
  bpf_link__fd(link: LinkPtr): number
  bpf_link__open(path: string): LinkPtr | null
  bpf_link_create(progFd: number, targetFd: number, attachType: number, opts: null): number
  /** The tc API (libbpf >= 0.4): hooks and opts are encoded by libbpf/tc.ts. */
  bpf_tc_hook_create(hook: Buffer): number
  bpf_tc_hook_destroy(hook: Buffer): number
  bpf_tc_attach(hook: Buffer, opts: Buffer): number
  bpf_tc_detach(hook: Buffer, opts: Buffer): number
  bpf_tc_query(hook: Buffer, opts: Buffer): number
  bpf_map_update_elem(fd: number, key: Buffer, value: Buffer, flags: bigint): number
  bpf_map_lookup_elem(fd: number, key: Buffer, value: Buffer): number
  bpf_map_delete_elem(fd: number, key: Buffer): number
  bpf_map_get_next_key(fd: number, key: Buffer | null, next: Buffer): number
  libbpf_strerror(err: number, buf: Buffer, size: number): number
  btf__load_vmlinux_btf(): bigint | null
  btf__find_by_name_kind(btf: bigint, name: string, kind: number): number
  bpf_link_get_next_id(startId: number, nextId: number[]): number
  bpf_link_get_fd_by_id(id: number): number
  bpf_obj_get_info_by_fd(fd: number, info: Buffer, infoLen: number[]): number
  /** BPF_PROG_RUN; `opts` is a struct bpf_test_run_opts encoded by libbpf/test-run.ts. */
  bpf_prog_test_run_opts(progFd: number, opts: Buffer): number
  /** BPF ring buffers (libbpf >= 0.0.9): `sample` is a registered ring_buffer_sample_fn (libbpf/ringbuf.ts). */
  ring_buffer__new(mapFd: number, sample: unknown, ctx: null, opts: null): RingBufferPtr | null
  ring_buffer__poll(rb: RingBufferPtr, timeoutMs: number): number
  ring_buffer__free(rb: RingBufferPtr): void
}

export interface Libc {
  vasprintf(out: bigint[], fmt: bigint, ap: bigint): number
  free(ptr: bigint): void
  close(fd: number): number
  open(path: string, flags: number): number
  strerror(errnum: number): string
  /** hdr: { u32 version; int pid }, data: 2 x { u32 effective, permitted, inheritable } (v3). */
  capget(hdr: Buffer, data: Buffer): number
  capset(hdr: Buffer, data: Buffer): number
  prctl(option: number, a2: number, a3: number, a4: number, a5: number): number
  /** prctl with an out-pointer as its second argument (PR_GET_CHILD_SUBREAPER and the like). */
  prctlOut(option: number, out: Buffer): number
  /** waitid(2) (engine/targets.ts asks whether this process has any child: -1 and ECHILD when none). */
  waitid(idtype: number, id: number, info: Buffer, options: number): number
  /** AF_UNIX sockets for owner liveness and the tc lock (engine/state/abstract-socket.ts): the address is a raw sockaddr_un. */
  socket(domain: number, type: number, protocol: number): number
  bind(fd: number, addr: Buffer, len: number): number
  connect(fd: number, addr: Buffer, len: number): number
  listen(fd: number, backlog: number): number
  /** SO_PEERCRED / SO_PEERPIDFD of a connected AF_UNIX socket (engine/state/holder.ts). */
  getsockopt(fd: number, level: number, name: number, val: Buffer, len: number[]): number
  /** Interface queries (kernel/netdev.ts): `arg` is a struct ifreq. */
  ioctl(fd: number, request: number, arg: Buffer): number
  /** fds: `n` x struct pollfd { int fd; short events; short revents }. */
  poll(fds: Buffer, n: number, timeoutMs: number): number
  /** `set`/`old`: glibc sigset_t, 128 bytes (libbpf/signals.ts). */
  pthread_sigmask(how: number, set: Buffer, old: Buffer | null): number
}

interface Native {
  lib: Libbpf
  libc: Libc
  koffi: typeof koffi
  printProto: koffi.TypeObject
  /** `int ring_buffer_sample_fn(void *ctx, void *data, size_t size)`. */
  sampleProto: koffi.TypeObject
}

/** One binding per process: koffi's type names are process-wide (see process-slot.ts). */
const binding = processSlot<{ native?: Native }>('libbpf', () => ({}))

/** The oldest libbpf we accept: 1.0 made every API return -errno and dropped the legacy modes. */
export const MIN_LIBBPF = { major: 1, minor: 0 }

export function getNative(): Native {
  if (binding.native) return binding.native
  let handle: koffi.LibraryHandle
  // FAULTLINE_LIBBPF points at another build (a newer libbpf than the distribution's).
  const path = process.env.FAULTLINE_LIBBPF || 'libbpf.so.1'
  try {
    handle = koffi.load(path)
  } catch (err) {
    throw new LibbpfMissingError(
      `cannot load ${path} (${(err as Error).message}). ` +
        `Install it: apt-get install libbpf1 (Debian/Ubuntu), dnf install libbpf (Fedora/RHEL).`,
    )
  }
  const libcHandle = koffi.load('libc.so.6')
  koffi.opaque('bpf_object')
  koffi.opaque('bpf_program')
  koffi.opaque('bpf_map')
  koffi.opaque('bpf_link')
  const printProto = koffi.proto('int libbpf_print_fn(int level, void *fmt, void *ap)')
  const sampleProto = koffi.proto('int ring_buffer_sample_fn(void *ctx, void *data, size_t size)')

  const fns: Record<string, string> = {
    libbpf_major_version: 'uint32 libbpf_major_version(void)',
    libbpf_minor_version: 'uint32 libbpf_minor_version(void)',
    libbpf_set_print: 'void *libbpf_set_print(libbpf_print_fn *fn)',
    bpf_object__open_file: 'bpf_object *bpf_object__open_file(const char *path, void *opts)',
    bpf_object__load: 'int bpf_object__load(bpf_object *obj)',
    bpf_object__close: 'void bpf_object__close(bpf_object *obj)',
    bpf_object__find_program_by_name: 'bpf_program *bpf_object__find_program_by_name(bpf_object *obj, const char *name)',
    bpf_object__find_map_by_name: 'bpf_map *bpf_object__find_map_by_name(bpf_object *obj, const char *name)',
    bpf_object__next_program: 'bpf_program *bpf_object__next_program(bpf_object *obj, bpf_program *prev)',
    bpf_object__next_map: 'bpf_map *bpf_object__next_map(bpf_object *obj, bpf_map *prev)',
    bpf_program__name: 'const char *bpf_program__name(bpf_program *prog)',
    bpf_program__section_name: 'const char *bpf_program__section_name(bpf_program *prog)',
    bpf_program__fd: 'int bpf_program__fd(bpf_program *prog)',
    bpf_program__set_autoload: 'int bpf_program__set_autoload(bpf_program *prog, bool autoload)',
    bpf_program__attach: 'bpf_link *bpf_program__attach(bpf_program *prog)',
    bpf_program__attach_cgroup: 'bpf_link *bpf_program__attach_cgroup(bpf_program *prog, int cgroup_fd)',
    bpf_program__attach_kprobe: 'bpf_link *bpf_program__attach_kprobe(bpf_program *prog, bool retprobe, const char *func)',
    bpf_program__attach_trace: 'bpf_link *bpf_program__attach_trace(bpf_program *prog)',
    bpf_program__attach_lsm: 'bpf_link *bpf_program__attach_lsm(bpf_program *prog)',
    bpf_program__attach_iter: 'bpf_link *bpf_program__attach_iter(bpf_program *prog, void *opts)',
    bpf_iter_create: 'int bpf_iter_create(int link_fd)',
    bpf_program__set_attach_target: 'int bpf_program__set_attach_target(bpf_program *prog, int attach_prog_fd, const char *func)',
    bpf_map__name: 'const char *bpf_map__name(bpf_map *map)',
    bpf_map__fd: 'int bpf_map__fd(bpf_map *map)',
    bpf_map__reuse_fd: 'int bpf_map__reuse_fd(bpf_map *map, int fd)',
    bpf_map__set_initial_value: 'int bpf_map__set_initial_value(bpf_map *map, const void *data, size_t size)',
    bpf_map__value_size: 'uint32 bpf_map__value_size(bpf_map *map)',
    bpf_map__key_size: 'uint32 bpf_map__key_size(bpf_map *map)',
    bpf_map__max_entries: 'uint32 bpf_map__max_entries(bpf_map *map)',
    bpf_link__destroy: 'int bpf_link__destroy(bpf_link *link)',
    bpf_link__fd: 'int bpf_link__fd(bpf_link *link)',
    bpf_link__open: 'bpf_link *bpf_link__open(const char *path)',
    bpf_link_create: 'int bpf_link_create(int prog_fd, int target_fd, int attach_type, void *opts)',
    bpf_tc_hook_create: 'int bpf_tc_hook_create(void *hook)',
    bpf_tc_hook_destroy: 'int bpf_tc_hook_destroy(void *hook)',
    bpf_tc_attach: 'int bpf_tc_attach(const void *hook, void *opts)',
    bpf_tc_detach: 'int bpf_tc_detach(const void *hook, const void *opts)',
    bpf_tc_query: 'int bpf_tc_query(const void *hook, void *opts)',
    bpf_map_update_elem: 'int bpf_map_update_elem(int fd, const void *key, const void *value, uint64 flags)',
    bpf_map_lookup_elem: 'int bpf_map_lookup_elem(int fd, const void *key, _Out_ void *value)',
    bpf_map_delete_elem: 'int bpf_map_delete_elem(int fd, const void *key)',
    bpf_map_get_next_key: 'int bpf_map_get_next_key(int fd, const void *key, _Out_ void *next_key)',
    libbpf_strerror: 'int libbpf_strerror(int err, _Out_ char *buf, size_t size)',
    btf__load_vmlinux_btf: 'void *btf__load_vmlinux_btf(void)',
    btf__find_by_name_kind: 'int btf__find_by_name_kind(void *btf, const char *name, uint32 kind)',
    bpf_link_get_next_id: 'int bpf_link_get_next_id(uint32 start_id, _Out_ uint32 *next_id)',
    bpf_link_get_fd_by_id: 'int bpf_link_get_fd_by_id(uint32 id)',
    bpf_obj_get_info_by_fd: 'int bpf_obj_get_info_by_fd(int bpf_fd, _Inout_ void *info, _Inout_ uint32 *info_len)',
    bpf_prog_test_run_opts: 'int bpf_prog_test_run_opts(int prog_fd, void *opts)',
    ring_buffer__new: 'void *ring_buffer__new(int map_fd, ring_buffer_sample_fn *sample_cb, void *ctx, void *opts)',
    ring_buffer__poll: 'int ring_buffer__poll(void *rb, int timeout_ms)',
    ring_buffer__free: 'void ring_buffer__free(void *rb)',
  }
  const lib: Record<string, unknown> = {}
  for (const [name, decl] of Object.entries(fns)) {
    try {
      lib[name] = handle.func(decl)
    } catch {
      // Missing symbols (older libbpf) surface as a clear error when used, not at load.
      lib[name] = () => {
        throw new LibbpfMissingError(`libbpf.so.1 has no ${name}: upgrade libbpf to >= 1.0 (apt-get install libbpf1)`)
      }
    }
  }
  const libc: Libc = {
    vasprintf: libcHandle.func('int vasprintf(_Out_ void **out, void *fmt, void *ap)') as Libc['vasprintf'],
    free: libcHandle.func('void free(void *ptr)') as Libc['free'],
    close: libcHandle.func('int close(int fd)') as Libc['close'],
    open: libcHandle.func('int open(const char *path, int flags)') as Libc['open'],
    strerror: libcHandle.func('const char *strerror(int errnum)') as Libc['strerror'],
    capget: libcHandle.func('int capget(void *hdr, void *data)') as Libc['capget'],
    capset: libcHandle.func('int capset(void *hdr, void *data)') as Libc['capset'],
    // variadic in C; integer arguments pass the same way on x86-64 and arm64
    prctl: libcHandle.func('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)') as Libc['prctl'],
    prctlOut: ((f) => (option: number, out: Buffer) => f(option, out, 0, 0, 0))(
      libcHandle.func('int prctl(int option, _Inout_ uint8_t *a2, unsigned long a3, unsigned long a4, unsigned long a5)'),
    ) as Libc['prctlOut'],
    waitid: libcHandle.func('int waitid(int idtype, uint32 id, _Out_ uint8_t *info, int options)') as Libc['waitid'],
    socket: libcHandle.func('int socket(int domain, int type, int protocol)') as Libc['socket'],
    bind: libcHandle.func('int bind(int fd, const void *addr, uint32 len)') as Libc['bind'],
    connect: libcHandle.func('int connect(int fd, const void *addr, uint32 len)') as Libc['connect'],
    listen: libcHandle.func('int listen(int fd, int backlog)') as Libc['listen'],
    getsockopt: libcHandle.func('int getsockopt(int fd, int level, int name, _Out_ uint8_t *val, _Inout_ uint32 *len)') as Libc['getsockopt'],
    // variadic in C; a pointer passes the same way on x86-64 and arm64
    ioctl: libcHandle.func('int ioctl(int fd, unsigned long request, _Inout_ uint8_t *arg)') as Libc['ioctl'],
    poll: libcHandle.func('int poll(_Inout_ void *fds, unsigned long n, int timeout)') as Libc['poll'],
    pthread_sigmask: libcHandle.func('int pthread_sigmask(int how, const uint8_t *set, _Out_ uint8_t *old)') as Libc['pthread_sigmask'],
  }
  const typed = lib as unknown as Libbpf
  const major = typed.libbpf_major_version()
  const minor = typed.libbpf_minor_version()
  if (major < MIN_LIBBPF.major) {
    throw new LibbpfMissingError(
      `libbpf ${major}.${minor} is too old: faultline needs >= ${MIN_LIBBPF.major}.${MIN_LIBBPF.minor} (apt-get install libbpf1)`,
    )
  }
  binding.native = { lib: typed, libc, koffi, printProto, sampleProto }
  return binding.native
}

export function libbpfVersion(): string {
  const { lib } = getNative()
  return `${lib.libbpf_major_version()}.${lib.libbpf_minor_version()}`
}
