// The house's arrows run one way: read from the sources' own imports.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ROOT } from './helpers.js'
import { checkHouse, importsOf, isTest, RULES } from './imports.js'

/** Every TypeScript source of the rooms, by repository path. */
function sources(): Map<string, string> {
  const files = new Map<string, string>()
  for (const top of Object.keys(RULES)) {
    for (const f of readdirSync(join(ROOT, top), { recursive: true }).map(String).sort()) {
      if (f.endsWith('.ts') && !f.endsWith('.d.ts')) files.set(`${top}/${f}`, readFileSync(join(ROOT, top, f), 'utf8'))
    }
  }
  return files
}

const house = (entries: Record<string, string>) => checkHouse(new Map(Object.entries(entries)))

t.test('the project keeps its own rules', async t => {
  const files = sources()
  t.ok(files.size > 100, `read ${files.size} sources`)
  t.same(checkHouse(files), [])
  // The arrows that matter most, said once more in plain words.
  for (const [file, source] of files) {
    if (isTest(file)) continue
    const targets = importsOf(file, source)
    if (file.startsWith('daemon/')) t.notOk(targets.some(x => x.startsWith('render/')), `${file} imports nothing of the renderer`)
    if (file.startsWith('render/')) t.notOk(targets.some(x => x.startsWith('daemon/')), `${file} imports nothing of the daemon`)
  }
})

t.test('no source file past 400 lines outside tests and fixtures', async t => {
  const long: string[] = []
  for (const [file, source] of sources()) {
    const lines = source.split('\n').length - (source.endsWith('\n') ? 1 : 0)
    if (!isTest(file) && lines > 400) long.push(`${file}: ${lines} lines`)
  }
  t.same(long, [])
})

t.test('each rule catches what it forbids', async t => {
  t.match(house({ 'daemon/a.ts': "import { x } from '../render/b.js'", 'render/b.ts': '' }), [/daemon\/a\.ts imports render\/b\.ts/])
  t.match(house({ 'render/a.ts': "import type { X } from '../daemon/b.js'", 'daemon/b.ts': '' }), [/render\/a\.ts imports daemon\/b\.ts/])
  t.match(house({ 'core/a.ts': "const m = await import('../render/b.js')", 'render/b.ts': '' }), [/core\/a\.ts imports render\/b\.ts/])
  t.match(house({ 'daemon/a.ts': "import { y } from '../standin/b.js'", 'standin/b.ts': '' }), [/daemon may import|daemon\/ may import/])
  // The experiments use the two halves only through their entry modules.
  t.same(house({ 'bench/a.ts': "import { loadTrace } from '../render/index.js'", 'render/index.ts': '' }), [])
  t.match(house({ 'bench/a.ts': "import { loadTrace } from '../render/load.js'", 'render/load.ts': '' }), [/bench\/a\.ts imports render\/load\.ts/])
  // Test files are imported by nothing; test helpers only by tests.
  t.match(house({ 'render/test/a.test.ts': "import { f } from './b.test.js'", 'render/test/b.test.ts': '' }), [/imports the test file render\/test\/b\.test\.ts/])
  t.match(house({ 'render/a.ts': "import { f } from './test/helpers.js'", 'render/test/helpers.ts': '' }), [/which is test code/])
  t.same(house({ 'render/test/a.test.ts': "import { f } from '../../core/test/helpers.js'", 'core/test/helpers.ts': '' }), [])
  // Cycles, of two files and of three, across lines and through `export … from`.
  t.match(house({ 'render/a.ts': "import {\n  b,\n} from './b.js'", 'render/b.ts': "export { a } from './a.js'" }), [/import cycle: render\/a\.ts → render\/b\.ts → render\/a\.ts/])
  t.match(house({ 'core/a.ts': "import './b.js'", 'core/b.ts': "import { c } from './c.js'", 'core/c.ts': "import type { A } from './a.js'" }), [/import cycle: core\/a\.ts → core\/b\.ts → core\/c\.ts/])
  t.same(house({ 'core/a.ts': "import { b } from './b.js'", 'core/b.ts': "import { readFileSync } from 'node:fs'" }), [])
})
