/** BPF iterators (iter/task, ...): a link that runs its program once per object each time it is read. */
import fs from 'node:fs'
import { getNative } from '../native.js'
import { LibbpfError } from '../errors.js'
import type { BpfProgram } from '../object.js'
import { libbpfAttach, type Link } from './link.js'

export function attachIter(program: BpfProgram): Link {
  return libbpfAttach(`${program.section} (${program.name})`, () => getNative().lib.bpf_program__attach_iter(program.ptr, null))
}

/** Runs the iterator once over every object; returns what the program printed (often nothing). */
export function runIter(link: Link): Buffer {
  const fd = getNative().lib.bpf_iter_create(link.fd)
  if (fd < 0) throw new LibbpfError(`create iterator for ${link.description}`, -fd)
  try {
    const chunks: Buffer[] = []
    const buf = Buffer.alloc(4096)
    for (let n; (n = fs.readSync(fd, buf)) > 0; ) chunks.push(Buffer.from(buf.subarray(0, n)))
    return Buffer.concat(chunks)
  } finally {
    fs.closeSync(fd)
  }
}
