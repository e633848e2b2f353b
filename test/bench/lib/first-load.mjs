// Prints, for a fresh process, the ms of `import('@faultline/core')` and of the first arm + disarm
// (BPF objects loaded, kernel BTF parsed), as JSON: {"import": ms, "arm": ms}. Node's own start is
// in neither. usage: node first-load.mjs '<config json>'
const t0 = performance.now()
const { arm, validateConfig } = await import('../../../packages/core/dist/index.js')
const t1 = performance.now()
const cfg = validateConfig(JSON.parse(process.argv[2]))
const t2 = performance.now()
arm(cfg).disarm()
const t3 = performance.now()
process.stdout.write(`${JSON.stringify({ import: t1 - t0, arm: t3 - t2 })}\n`)
process.exit(0)
