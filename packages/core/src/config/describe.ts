/** How values appear in error messages, and the bounds every rule shares. */

/** A value as an error message shows it: a long string is cut, so a 10 MB value does not come back whole. */
export const describe = (v: unknown) =>
  Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v === 'string' ? JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}...` : v) : typeof v === 'object' ? 'an object' : String(v)
/** The longest rule name: it is printed in reports and error messages. */
export const MAX_NAME_LENGTH = 128
/** nth and times are counted in 32 bits by the BPF side. */
export const MAX_COUNT = 0xffffffff
