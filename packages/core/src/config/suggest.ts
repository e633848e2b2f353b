/** "did you mean ...?" for misspelt names: the closest candidate within a small edit distance. */

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!
    prev[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1))
      diag = tmp
    }
  }
  return prev[b.length]!
}

/** No name we suggest is longer than this: a longer input is not a typo of one. */
const MAX_SUGGESTABLE = 64

export function closest(input: string, candidates: Iterable<string>): string | undefined {
  if (input.length > MAX_SUGGESTABLE) return undefined
  const needle = input.toLowerCase()
  let best: string | undefined
  let bestD = Infinity
  for (const c of candidates) {
    const d = distance(needle, c.toLowerCase())
    if (d < bestD) [best, bestD] = [c, d]
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(input.length / 3)) ? best : undefined
}

export function didYouMean(input: string, candidates: Iterable<string>): string {
  const c = closest(input, candidates)
  return c ? `; did you mean ${c}?` : ''
}
