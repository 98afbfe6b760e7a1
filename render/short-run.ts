/**
 * V8's optimising compiler, set for a render: a process that is over in
 * about a second.
 *
 * TurboFan compiles each function that runs hot, on threads beside the main
 * one, and inlines into it the functions it calls, and theirs. On the trace
 * of 10,000 processes that was about 0.4 s of CPU, a third of all the
 * render's: inlined, the same code is compiled again in every caller, and a
 * deoptimised caller compiles it all once more. A run this short never earns
 * that back, and on a busy machine those threads take a core from the main
 * one. Without inlining, measured alternately (`docs/benchmarks.md`): that
 * render 0.93 s to 0.85 s, its CPU 1.27 s to 1.05 s, and 1.35 s to 1.11 s on
 * one core; the day-long one no slower. What a function computes is the
 * same either way: every chart is byte for byte the one it was.
 */
import { setFlagsFromString } from 'node:v8'

/** Compiles without inlining from here on; for the whole process, so only a render's own sets it. */
export function compileForAShortRun(): void {
  setFlagsFromString('--no-turbo-inlining')
}
