// The first lines of a failed test's message (vitest/jest JSON report), so a CI log names the
// cause and not only the test; stack frames are left out.
export function failureHead(t) {
  const msg = (t.failureMessages ?? [])[0]
  if (!msg) return ''
  const head = msg.split('\n').filter((l) => l.trim() && !/^\s+at /.test(l)).slice(0, 4).join(' | ')
  return `\n      ${head.length > 600 ? `${head.slice(0, 600)}...` : head}`
}
