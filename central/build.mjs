// `npm run build`: central and its CLI as plain JavaScript in central/dist/, run by Node with
// production dependencies only (no TypeScript loader at run time).
//   node central/dist/main.js     the service
//   node central/dist/cli.js      the `portcullis` CLI
// Packages stay external (installed by `npm ci --omit=dev`); only our own code is bundled.
import { build } from 'esbuild'
import { cp, rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const outdir = `${root}central/dist`

await rm(outdir, { recursive: true, force: true })
const result = await build({
  absWorkingDir: root,
  entryPoints: { main: 'central/main.ts', cli: 'central/cli/main.ts' },
  outdir,
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  packages: 'external',
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
  // main.ts and the CLI decide for themselves whether they are the entry (import.meta.url).
  banner: { js: '// Built by central/build.mjs from the TypeScript sources; do not edit.' },
})
// The migration runner reads its .sql files next to itself (new URL('./migrations/', import.meta.url)).
await cp(`${root}central/db/migrations`, `${outdir}/migrations`, { recursive: true })

const externals = new Set()
for (const output of Object.values(result.metafile.outputs)) {
  for (const imported of output.imports) if (imported.external) externals.add(imported.path)
}
console.log(`central/dist: main.js, cli.js, migrations/ (${externals.size} external imports)`)

// The origin-side CurrentUser package (package.json "exports": portcullis/current-user, …/express,
// …/fastify, …/hono) in shared/dist/.
const { buildCurrentUserPackage } = await import('../shared/build-current-user.mjs')
await buildCurrentUserPackage()
console.log('shared/dist: the CurrentUser package for origin APIs (Express, Fastify, Hono)')
