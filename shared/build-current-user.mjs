// The origin-side CurrentUser helper as the package exports `portcullis/current-user`,
// `portcullis/current-user/express`, `…/fastify` and `…/hono` (package.json "exports"): plain
// ES modules in shared/dist/ with their .d.ts. Run by `npm run build` (central/build.mjs), or
// alone: `node shared/build-current-user.mjs`. Packages (jose, the frameworks) stay external.
import { build } from 'esbuild'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

/** Entry files, one per export of package.json. */
export const CURRENT_USER_ENTRIES = ['current-user-package', 'current-user-express', 'current-user-fastify', 'current-user-hono']

/**
 * Builds into a fresh folder, then renames each file into shared/dist: rename is atomic, so a
 * process importing the package meanwhile (tests build it in parallel) never reads half a file.
 */
export async function buildCurrentUserPackage() {
  const outdir = `${root}shared/dist`
  await mkdir(outdir, { recursive: true })
  const staging = await mkdtemp(`${root}shared/dist/.staging-`)
  try {
    await build({
      absWorkingDir: root,
      entryPoints: CURRENT_USER_ENTRIES.map((name) => `shared/${name}.ts`),
      outdir: staging,
      bundle: true,
      splitting: true,
      platform: 'neutral',
      format: 'esm',
      target: 'es2022',
      packages: 'external',
      logLevel: 'warning',
      banner: { js: '// Built by shared/build-current-user.mjs from the TypeScript sources; do not edit.' },
    })
    await promisify(execFile)(process.execPath, [
      `${root}node_modules/typescript/bin/tsc`,
      ...CURRENT_USER_ENTRIES.map((name) => `${root}shared/${name}.ts`),
      '--declaration', '--emitDeclarationOnly', '--outDir', staging,
      '--target', 'ES2023', '--module', 'ESNext', '--moduleResolution', 'Bundler', '--strict',
      '--skipLibCheck', '--isolatedModules', '--verbatimModuleSyntax', '--types', 'node',
    ])
    for (const file of await readdir(staging)) {
      // Node's ESM resolution (moduleResolution node16 in a consumer) needs the extension in relative imports.
      if (file.endsWith('.d.ts')) {
        const text = await readFile(`${staging}/${file}`, 'utf8')
        await writeFile(`${staging}/${file}`, text.replace(/(from\s+|import\()(['"])(\.\/[^'"]+?)(?<!\.js)\2/g, '$1$2$3.js$2'))
      }
      await rename(`${staging}/${file}`, `${outdir}/${file}`)
    }
  } finally {
    await rm(staging, { recursive: true, force: true })
  }
  return outdir
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildCurrentUserPackage()
  console.log(`shared/dist: ${CURRENT_USER_ENTRIES.map((name) => `${name}.js`).join(', ')} (+ .d.ts)`)
}
