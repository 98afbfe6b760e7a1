// The baseline: read each file line by line with Node's readline, and nothing else.
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'

let lines = 0
for (const path of process.argv.slice(2)) {
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Infinity })
  for await (const _line of rl) lines++
}
process.stdout.write(`${lines} lines\n`)
