/**
 * The BPF glob matcher of match.path / match.fd (bpf/include/glob.h), run in the kernel through
 * BPF_PROG_RUN of a test-only object (bpf/test/glob.bpf.c), against picomatch as the reference
 * over generated (glob, path) pairs, plus the edge cases where we differ on purpose.
 *
 * Our semantics (README, match.path): `*` within a segment, `**` as a whole segment across
 * segments, `?` one character other than '/', everything else literal (no classes, braces,
 * extglobs, negation or escapes); globs up to 127 bytes,
 * paths compared up to 255 bytes. picomatch runs with dot: true (our `*` matches dot files) and
 * strictSlashes: true (a trailing '/' is part of the path), and its extras (braces, classes,
 * extglobs, negation) off. Deliberate differences, each checked below:
 *  - `*` never matches an empty segment: picomatch lets `a/*\/b` match `a//b` and `*\/a` match `/a`,
 *    yet not `a/*` match `a/`; we refuse all three (a kernel-resolved path has no empty segment).
 *  - `.` and `..` segments are matched like any name (picomatch never lets `*` or `**` match them):
 *    the LSM hooks see resolved paths, which have none; an argument path is matched as passed.
 *  - A glob with a leading `/**\/` may match no segment (`/**\/a` matches `/a`); picomatch wants one
 *    there, unlike everywhere else, so the reference is given both sides without the leading '/'.
 */
import { describe, it, expect, beforeAll } from 'vitest'
import picomatch from 'picomatch'
import { fileURLToPath } from 'node:url'
import { BpfObject, testRun, type BpfMap, type BpfProgram } from '../../packages/core/src/libbpf/index.js'
import { prng } from '../support/prng.js'

const OBJECT = fileURLToPath(new URL('../fixtures/bin/glob.bpf.o', import.meta.url))
const GLOB_LEN = 128 // FL_GLOB_LEN: 127 bytes and the NUL
const PATH_LEN = 256 // FL_PATH_LEN
const CASES = Number(process.env.FAULTLINE_GLOB_CASES ?? 6000)
const SEED = Number(process.env.FAULTLINE_GLOB_SEED ?? 20261201)

const PM_OPTIONS = { dot: true, strictSlashes: true, nobrace: true, nobracket: true, noextglob: true, nonegate: true, noquantifiers: true }

let prog: BpfProgram
let caseMap: BpfMap
const KEY = Buffer.alloc(4)

beforeAll(() => {
  const obj = BpfObject.open(OBJECT)
  obj.load()
  prog = obj.program('fl_glob_test')
  caseMap = obj.map('fl_glob_case')
})

/** The kernel's answer: 'match', 'no', or 'out of steps' (the bpf_loop budget ran out). */
function kernelMatch(glob: string, path: string): 'match' | 'no' | 'out of steps' {
  const v = Buffer.alloc(caseMap.valueSize)
  if (Buffer.byteLength(glob) >= GLOB_LEN || Buffer.byteLength(path) >= PATH_LEN) throw new Error(`case too long: ${glob} ${path}`)
  v.write(glob, 0)
  v.write(path, GLOB_LEN)
  caseMap.update(KEY, v)
  const r = testRun(prog)
  if (r === 3) throw new Error('test object: no case in the map')
  return r === 1 ? 'match' : r === 0 ? 'no' : 'out of steps'
}

function reference(glob: string, path: string): boolean {
  const strip = glob.startsWith('/') && path.startsWith('/')
  return picomatch(strip ? glob.slice(1) : glob, PM_OPTIONS)(strip ? path.slice(1) : path)
}

// Names that overlap (a, ab, aab), dot files, dots inside names, a space.
const NAMES = ['a', 'b', 'c', 'ab', 'ba', 'aab', 'abc', '.a', 'a.b', '.git', 'x y', 'node_modules', 'index.js']

function generator(seed: number) {
  const r = prng(seed)
  const path = (long = false): string => {
    const depth = 1 + r.int(long ? 30 : 6)
    const segs = Array.from({ length: depth }, () => (long && r.int(3) === 0 ? 'segment-' + r.pick(NAMES) : r.pick(NAMES)))
    let p = (r.int(6) ? '/' : '') + segs.join('/')
    if (r.int(20) === 0) p += '/'
    return p.slice(0, PATH_LEN - 1)
  }
  /** A glob derived from `from`: each segment kept, or replaced by *, **, ?s, a partial star, another name. */
  const glob = (from: string): string => {
    const abs = from.startsWith('/')
    const out: string[] = []
    for (const s of from.split('/').filter(Boolean)) {
      const k = r.int(12)
      if (k < 4) out.push(s)
      else if (k < 5) out.push('*')
      else if (k < 6) out.push('**')
      else if (k < 7) out.push(s.replace(/./g, (ch) => (r.int(3) ? ch : '?')))
      else if (k < 8) out.push(s.slice(0, r.int(s.length + 1)) + '*')
      else if (k < 9) out.push('*' + s.slice(r.int(s.length + 1)))
      else if (k < 10) out.push(s.slice(0, 1) + '*' + s.slice(-1))
      else if (k < 11) out.push('**', s)
      else out.push(r.pick(NAMES))
    }
    if (r.int(8) === 0) out.push('**')
    if (from.endsWith('/') && r.int(2)) out.push('')
    let g = (abs ? '/' : '') + out.join('/')
    while (Buffer.byteLength(g) >= GLOB_LEN) g = g.slice(0, g.lastIndexOf('/'))
    return g
  }
  return { path, glob, int: r.int }
}

describe('BPF glob matcher against picomatch', () => {
  it(`agrees on ${CASES} generated (glob, path) pairs (seed ${SEED})`, () => {
    const gen = generator(SEED)
    const disagree: string[] = []
    let matched = 0
    for (let i = 0; i < CASES; i++) {
      const long = gen.int(10) === 0
      const p = gen.path(long)
      // Mostly globs derived from the path itself (so about half match), some from another path.
      let g = gen.glob(gen.int(5) ? p : gen.path(long))
      if (g.startsWith('/') !== p.startsWith('/')) g = p.startsWith('/') ? `/${g}` : g.replace(/^\/+/, '')
      if (Buffer.byteLength(g) >= GLOB_LEN || !g) continue
      const want = reference(g, p)
      const got = kernelMatch(g, p)
      if (want) matched++
      if (got !== (want ? 'match' : 'no')) disagree.push(`${JSON.stringify(g)} ${JSON.stringify(p)}: kernel ${got}, picomatch ${want}`)
    }
    expect(disagree.slice(0, 20)).toEqual([])
    // The generator must exercise both answers, or the comparison says little.
    expect(matched).toBeGreaterThan(CASES * 0.25)
    expect(matched).toBeLessThan(CASES * 0.75)
  })

  const agreed: [string, string, boolean][] = [
    ['/tmp/app/**', '/tmp/app/a/b/c.json', true],
    ['/tmp/app/**', '/tmp/app', false], // a dir's ** names what is below it (strictSlashes)
    ['/tmp/app/**', '/tmp/app/', true],
    ['/tmp/*.json', '/tmp/a.json', true],
    ['/tmp/*.json', '/tmp/a/b.json', false], // * stays in its segment
    ['/tmp/*', '/tmp/.hidden', true], // dot files too
    ['/tmp/?', '/tmp/a', true],
    ['/tmp/?', '/tmp/ab', false],
    ['/tmp/a?b', '/tmp/a/b', false], // ? is not '/'
    ['/a/**/b', '/a/b', true], // **/ may be no segment
    ['/a/**/b', '/a/x/y/b', true],
    ['/a/**/b', '/a/x/yb', false], // what follows **/ starts a segment
    ['/**/b', '/a/a.b', false],
    ['/a/**/*.js', '/a/index.js', true],
    ['**', 'a/b/c', true],
    ['**/c', 'c', true],
    ['a**b', 'axyb', true], // ** inside a segment is a *
    ['a**b', 'ax/yb', false],
    ['/a/x**', '/a/xy/z', false],
    ['/a/**b', '/a/c/b', false],
    ['/a/b', '/a/b/', false], // a trailing '/' is part of the path
    ['/a/*', '/a/b/', false],
    ['/a/*', '/a/', false],
    ['/a/*/', '/a/b/', true],
    ['/a/***', '/a/b', true],
    ['*', '', false],
    // No classes, braces, extglobs or negation: literal characters (picomatch with them off).
    ['/a/[bc]', '/a/[bc]', true],
    ['/a/[bc]', '/a/b', false],
    ['/a/{b,c}', '/a/{b,c}', true],
    ['/a/!(b)', '/a/!(b)', true],
    ['/' + 'x'.repeat(125), '/' + 'x'.repeat(125), true], // 127 bytes: the longest glob
    ['/**/z', '/' + 'y/'.repeat(126) + 'z', true], // a 255-byte path
    ['/**/*y*/**/*y*/**/z', '/' + 'y/'.repeat(126) + 'z', true],
    // Backtracks at every segment of a 253-byte path: ran out of bpf_loop steps at 4 * 256.
    ['/**/ab/ab/ab/ab/ab/ab/ab/ab/x', '/' + 'ab/'.repeat(84), false],
    ['/**/ab/ab/ab/ab/ab/ab/ab/ab/x', '/' + 'ab/'.repeat(83) + 'x', true],
    ['/**/*a*/**/*b*/**/*a*b/**/x', '/' + 'ab/'.repeat(82) + 'ab/x', true],
  ]
  for (const [g, p, want] of agreed) {
    it(`${JSON.stringify(g.length > 40 ? g.slice(0, 40) + '…' : g)} ${want ? 'matches' : 'does not match'} ${JSON.stringify(p.length > 40 ? p.slice(0, 40) + '…' : p)}, as in picomatch`, () => {
      expect(reference(g, p)).toBe(want)
      expect(kernelMatch(g, p)).toBe(want ? 'match' : 'no')
    })
  }

  // [glob, path, our answer]: picomatch answers the opposite, on purpose (header comment).
  const different: [string, string, boolean][] = [
    ['/a/*/b', '/a//b', false],
    ['*/a', '/a', false],
    ['/a/*/b', '/a/./b', true],
    ['/a/**', '/a/../b', true],
  ]
  for (const [g, p, ours] of different) {
    it(`on purpose unlike picomatch: ${JSON.stringify(g)} ${ours ? 'matches' : 'does not match'} ${JSON.stringify(p)}`, () => {
      expect(reference(g, p)).toBe(!ours)
      expect(kernelMatch(g, p)).toBe(ours ? 'match' : 'no')
    })
  }
})
