/**
 * V8's optimising compiler, set for a render: a process that is over in
 * about a second.
 *
 * TurboFan compiles each function that runs hot, on threads beside the main
 * one, and inlines into it the functions it calls, and theirs. On the trace
 * of 10,000 processes those threads took 0.56 s of the 1.32 s of CPU the
 * render took: inlined, the same code is compiled again in every caller,
 * and a deoptimised caller compiles it all once more. A run this short
 * never earns that back, and on a busy machine those threads take a core
 * from the main one. Without inlining, measured alternately
 * (`docs/benchmarks.md`): that render from 0.91–0.96 s to 0.84–0.87 s, its
 * CPU from 1.25–1.32 s to 1.04–1.11 s, and from 1.35 s to 1.11 s on one
 * core; the day-long one no slower. What a function computes is the same
 * either way: every chart is byte for byte the one it was. `--watch` keeps
 * V8's defaults: it lives on.
 */
import { setFlagsFromString } from 'node:v8'

/** Compiles without inlining from here on, for the whole process: only a single render sets it. */
export function compileForAShortRun(): void {
  setFlagsFromString('--no-turbo-inlining')
}
