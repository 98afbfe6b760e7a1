/**
 * The daemon as a library, for the experiments: its option parsing, and its
 * probes, which read this machine's memory and GPUs now. Nothing above the
 * daemon reaches further into it.
 */
export { type ConfigError, ollamaUrlFromEnv, parseDuration } from './config.js'
export { readLock } from './lock.js'
export { macSystemText } from './probe/macos.js'
export { runCommand } from './probe/run-command.js'
export { linuxSystemText } from './probe/system-linux.js'
