/** Which lines of a server's log the follower parses: a cheap test that passes over most of a busy log. */

/**
 * Words one of which every line the server-log parser keeps holds (its
 * messages and llama.cpp's, MLX's and the kernel's lines, in every spelling
 * of core/test/fixtures/server-log; a test holds the two together). A line
 * with none (a request, a debug line) is counted and passed over without
 * being parsed: most of a busy log, at a fraction of the cost.
 */
export const MAY_TELL = /memory|VRAM|inference compute|offload|msg=load\b|load request|load failed|error loading|kv cache|compute graph|model weights|evict|fit|OOM|starting|started in|is ready|terminated|unexpectedly stopped|working set|WorkingSetSize|finished setting up|server config|Listening on|buffer size|llm_load_tensors|MiB free|mmproj|Killed process/i
/** MAY_TELL, to scan many lines at once. */
export const MAY_TELL_ALL = new RegExp(MAY_TELL.source, 'gi')
