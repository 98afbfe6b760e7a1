// Loaded with `node --import` into a measured process: prints its peak RSS at exit.
import { writeSync } from 'node:fs'

process.on('exit', () => {
  writeSync(2, `\nMEMTRACE_BENCH_MAXRSS_KB ${process.resourceUsage().maxRSS}\n`)
})
