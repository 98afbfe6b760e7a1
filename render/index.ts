/**
 * The renderer as a library, for the commands and the experiments: read a
 * pair of traces into the trace model, find the newest pair in a directory,
 * and run `memtrace render` with parsed arguments. Nothing above the renderer
 * reaches further into it.
 */
export { parseRenderArgs, RENDER_HELP, type RenderArgs } from './args.js'
export { loadTrace } from './load.js'
export { runRender } from './main.js'
export { newestInDir } from './trace-pair.js'
export { runnerMemoryIn } from './runner-memory-of.js'
