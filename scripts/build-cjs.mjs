// The CommonJS entry of each package (dist/index.cjs), for require() and Jest environments.
// Dependencies stay external; import.meta.url is replaced by the bundle's own directory.
import { build } from 'esbuild'
import fs from 'node:fs'

const packages = ['core', 'vitest-plugin', 'jest-environment']
for (const name of packages) {
  const dir = `packages/${name}`
  if (!fs.existsSync(`${dir}/src/index.ts`)) continue
  const pkg = JSON.parse(fs.readFileSync(`${dir}/package.json`, 'utf8'))
  if (!pkg.exports?.['.']?.require) continue
  await build({
    entryPoints: [`${dir}/src/index.ts`],
    outfile: `${dir}/dist/index.cjs`,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    packages: 'external',
    define: { __FAULTLINE_CJS_DIRNAME__: '__dirname' },
    logLevel: 'warning',
    // paths.ts reads import.meta.url only when __FAULTLINE_CJS_DIRNAME__ is undefined (ESM).
    logOverride: { 'empty-import-meta': 'silent' },
  })
}

// @faultline/core/node-test as CommonJS: it requires the core's own bundle (./index.cjs) rather
// than a copy, so both entries share one engine and its one-armed-config-per-process state.
await build({
  entryPoints: ['packages/core/src/node-test.ts'],
  outfile: 'packages/core/dist/node-test.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
  plugins: [{
    name: 'core-index-external',
    setup(b) {
      b.onResolve({ filter: /^\.\/index\.js$/ }, () => ({ path: './index.cjs', external: true }))
    },
  }],
})
