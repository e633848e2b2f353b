// Prints the ms of the first arm (BPF objects loaded, kernel BTF parsed) of a fresh process.
// usage: node first-load.mjs '<config json>'
import { arm, validateConfig } from '../../../packages/core/dist/index.js'

const cfg = validateConfig(JSON.parse(process.argv[2]))
const t0 = performance.now()
arm(cfg).disarm()
process.stdout.write(`${performance.now() - t0}\n`)
process.exit(0)
