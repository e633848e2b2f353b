/** errno names and numbers (Linux, asm-generic: the same on x86-64 and arm64). */
import { ERRNO } from './tables.generated.js'

const byNumber = new Map<number, string>()
for (const [name, n] of Object.entries(ERRNO)) if (!byNumber.has(n)) byNumber.set(n, name)
// Prefer the names programs print (strerrorname_np / Node's err.code).
byNumber.set(11, 'EAGAIN')
byNumber.set(35, 'EDEADLK')
byNumber.set(95, 'EOPNOTSUPP')

export const MAX_ERRNO = 4095

export function errnoByName(name: string): number | undefined {
  return Object.hasOwn(ERRNO, name) ? ERRNO[name] : undefined
}

export function errnoName(n: number): string | undefined {
  return byNumber.get(n)
}

export function errnoNames(): string[] {
  return Object.keys(ERRNO)
}
