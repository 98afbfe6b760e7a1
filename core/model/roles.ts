import type { Role } from '../../schemas/index.js'

/** What a command line says about a process. */
export interface Classified {
  role: Role
  engine?: string
  /** The value of --model / -m as written. */
  modelArg?: string
}

const RUNNER_BINARIES = new Set([
  'ollama-runner',
  'ollama_llama_server',
  'ollama_llama_se', // Linux comm is cut to 15 characters
  'llama-server',
])

/** A runner's slots on its command line: `--parallel N` (Ollama's runner), `-np N` / `--n-parallel N` (llama-server). */
export const PARALLEL_ARG_RE = /\s(?:--parallel|-np|--n-parallel)[\s=](\d+)/

/** ps shows `(ollama)` for a process whose arguments it could not read. */
export function isPlaceholder(comm: string, command: string): boolean {
  return placeholderName(comm, command) !== undefined
}

const PLACEHOLDER_RE = /^\((ollama|ollama-mlx|llama-server|ollama_llama_server|ollama-runner)\)$/

/**
 * `ollama` for `(ollama)`, `llama-server` for `(llama-server)`: what macOS's
 * ps prints for an Ollama process whose arguments it may not read (one of
 * another user: root's, under `sudo brew services` or a LaunchDaemon), or
 * that is starting or exiting. Undefined for any other process.
 */
export function placeholderName(comm: string, command: string): string | undefined {
  return PLACEHOLDER_RE.exec(command)?.[1] ?? PLACEHOLDER_RE.exec(comm)?.[1]
}

/**
 * The words of a command line. One that Windows gives (a program path in
 * quotes, or starting `C:\`) keeps a quoted word whole, without its quotes:
 * `"C:\Users\Dana Lee\…\ollama.exe" runner --model "C:\Users\Dana Lee\…"`.
 */
function words(command: string): string[] {
  const t = command.trim()
  if (!/^"|^[A-Za-z]:\\/.test(t)) return t.split(/\s+/)
  return [...t.matchAll(/"([^"]*)"|(\S+)/g)].map(m => m[1] ?? m[2] ?? '')
}

function base(path: string): string {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'))
  return path.slice(i + 1)
}

function flag(tokens: string[], ...names: string[]): string | undefined {
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as string
    for (const n of names) {
      if (t === n) return tokens[i + 1]
      if (t.startsWith(`${n}=`)) return t.slice(n.length + 1)
    }
  }
  return undefined
}

/**
 * Role by command line, across Ollama's generations (notes: runner argv by
 * version): `ollama serve`; runners `ollama runner [--ollama-engine|--mlx-engine]`,
 * `llama-server`, `ollama_llama_server`, `ollama-runner`, `ollama-mlx runner`,
 * and MLX's own `mlx_lm.server`. A runner without a model is GPU discovery.
 */
export function classify(comm: string, command: string): Classified {
  const tokens = programFirst(withoutInterpreter(words(command)))
  const exe = base(tokens[0] || comm).toLowerCase().replace(/\.exe$/, '')
  const commBase = base(comm).toLowerCase()
  const isOllamaExe = exe === 'ollama' || exe === 'ollama-mlx'
  if (isOllamaExe && tokens[1] === 'serve') return { role: 'server' }
  let engine: string | undefined
  if (isOllamaExe && tokens[1] === 'runner') {
    engine = tokens.includes('--mlx-engine')
      ? 'mlx'
      : tokens.includes('--imagegen-engine') || tokens.includes('--image-engine')
        ? 'imagegen'
        : tokens.includes('--ollama-engine')
          ? 'ollama-engine'
          : 'ollama'
  } else if (RUNNER_BINARIES.has(exe) || RUNNER_BINARIES.has(commBase)) {
    engine = exe === 'llama-server' || commBase === 'llama-server' ? 'llama-server' : exe
    if (engine === 'ollama_llama_se') engine = 'ollama_llama_server'
  } else if (/(^|[\s/])mlx_lm[.]server(\s|$)/.test(command)) {
    engine = 'mlx-lm'
  }
  if (!engine) return { role: 'other' }
  const modelArg = flag(tokens, '--model', '-m')
  // No command line at all (a Windows listing without one): a runner binary is a runner whose model argv cannot tell.
  if (!modelArg) return command.trim() === '' ? { role: 'runner', engine } : { role: 'discovery', engine }
  return { role: 'runner', engine, modelArg }
}

const KNOWN_PROGRAMS = new Set(['ollama', 'ollama-mlx', 'ollama.exe', ...RUNNER_BINARIES])

/**
 * A program path with spaces, as ps prints it: `/Applications/Ollama
 * 2.app/Contents/Resources/ollama runner …`, split into words. When the
 * first word is an absolute path whose base name is not a known program,
 * the following words that continue that path (neither a flag nor a new
 * path) are joined to it up to the first whose base name is one; the words
 * after it are the program's arguments. Anything else stays as it is.
 */
function programFirst(tokens: string[]): string[] {
  const first = tokens[0] ?? ''
  // Case counts: `/Applications/Ollama` is the start of the app's path, `…/ollama` the program.
  if (!first.startsWith('/') || KNOWN_PROGRAMS.has(base(first))) return tokens
  for (let i = 1; i < tokens.length; i++) {
    const t = tokens[i] as string
    if (t.startsWith('-') || t.startsWith('/')) return tokens
    if (t.includes('/') && KNOWN_PROGRAMS.has(base(t))) return [tokens.slice(0, i + 1).join(' '), ...tokens.slice(i + 1)]
  }
  return tokens
}

const INTERPRETERS = /^(?:ba|da|z)?sh$|^python[\d.]*$|^node$|^env$/

/** `bash /opt/x/ollama runner …` is the script's command, not bash's. */
function withoutInterpreter(tokens: string[]): string[] {
  let i = 0
  while (i < tokens.length - 1 && INTERPRETERS.test(base(tokens[i] as string))) {
    i++
    while (i < tokens.length - 1 && (tokens[i] as string).startsWith('-') && tokens[i] !== '-m') i++
  }
  if (tokens[i] === '-m') i++ // python -m mlx_lm.server
  return i === 0 ? tokens : tokens.slice(i)
}

/** A short name for a process that is neither server nor runner: `ollama ps`, `Ollama`, `tail`. */
export function shortName(comm: string, command: string): string {
  const tokens = programFirst(withoutInterpreter(words(command)))
  const exe = base(tokens[0] || comm) || comm
  const sub = tokens[1]
  return /^ollama(\.exe)?$/i.test(exe) && sub && /^[a-z]+$/.test(sub) ? `${exe} ${sub}` : exe
}

const BLOB_RE = /(?:^|[\\/])(sha256[-:]([0-9a-f]{64}))$/

/** What --model names: a blob to map, or a model name as it stands. */
export function modelFromArg(arg: string): { blob: string } | { model: string } {
  const m = BLOB_RE.exec(arg)
  if (m) return { blob: `sha256-${m[2]}` }
  // A file path (llama.cpp's own server): name it by the file. A name with a
  // slash that is not a path (`x/flux2:latest`, `mlx-community/Qwen3-8B-4bit`)
  // stays as it is.
  if (/^(?:\/|\.{1,2}[\\/]|~|[A-Za-z]:\\)/.test(arg) || arg.includes('\\') || /\.gguf$/i.test(arg)) {
    return { model: base(arg).replace(/\.gguf$/i, '') }
  }
  return { model: arg }
}

/** `sha256-0a1b2c3d4e5f` — enough to tell blobs apart in a legend. */
export function shortBlob(blob: string): string {
  return blob.slice(0, 'sha256-'.length + 12)
}
