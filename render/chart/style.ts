/**
 * Fixed colours, so the same trace always draws the same. Every data colour
 * is chosen per theme to keep 3:1 against its panel (WCAG non-text
 * contrast) and every text colour 4.5:1; `render/test/contrast.test.ts`
 * checks both. Red means low free memory and nothing else.
 */

/** How a system series is named and dashed; its colour comes from the theme. */
export const SERIES_STYLE: Record<string, { label: string; dash?: string }> = {
  wired: { label: 'wired' },
  compressor: { label: 'compressor' },
  'swap-used': { label: 'swap used', dash: '6 3' },
  free: { label: 'free pages (vm_stat)' },
  'free-pct': { label: 'free %', dash: '3 2' },
  used: { label: 'used (total − available)' },
  available: { label: 'available (MemAvailable)' },
  'cgroup-usage': { label: 'container usage' },
  'cgroup-limit': { label: 'container limit', dash: '8 4' },
  'gpu-used': { label: 'GPU used' },
  'gpu-total': { label: 'GPU total', dash: '8 4' },
  psi: { label: 'memory pressure (PSI some avg10 %), right axis', dash: '2 2' },
  commit: { label: 'commit charge' },
  'commit-limit': { label: 'commit limit (RAM + page files)', dash: '8 4' },
}

/** Dashes that tell runners of one model apart: the first is solid. */
export const RUNNER_DASHES = [undefined, '7 3', '2 3', '10 3 2 3']

/** The chart's colours for one theme. */
export interface Theme {
  name: 'light' | 'dark'
  background: string
  panel: string
  frame: string
  grid: string
  gridTime: string
  title: string
  heading: string
  text: string
  muted: string
  marker: string
  /** The server's decisions on the time axis (evicted, killed, …). */
  decision: string
  server: string
  discovery: string
  other: string
  /**
   * One colour per model, in order of first appearance: Okabe–Ito's hues
   * without vermilion (it reads as red) and yellow, darkened for the light
   * panel and lightened for the dark one.
   */
  models: string[]
  /** System series colour by kind (`wired`, `gpu-used`, …). */
  series: Record<string, string>
  /** Low free memory: band edges, threshold line, legend swatch. */
  lowFree: string
  /** Fill opacities: one decimal, as the SVG writes numbers. */
  lowFreeOpacity: number
  /** Two or more runners alive together. */
  overlap: string
  overlapOpacity: number
  /** Finding badges: fill and the number on it. */
  badge: string
  badgeText: string
}

export const THEMES: Record<'light' | 'dark', Theme> = {
  light: {
    name: 'light',
    background: '#ffffff',
    panel: '#fcfcfc',
    frame: '#cccccc',
    grid: '#e4e4e4',
    gridTime: '#eeeeee',
    title: '#111111',
    heading: '#222222',
    text: '#333333',
    muted: '#555555',
    marker: '#333333',
    decision: '#111111',
    server: '#555555',
    discovery: '#8a8a8a',
    other: '#7a7a7a',
    models: ['#0072b2', '#b35c00', '#007a5a', '#a6437e', '#5b5bbf', '#786b00'],
    series: { wired: '#7b3294', compressor: '#666666', 'swap-used': '#c51b7d', free: '#1a7a3a', 'free-pct': '#444444', used: '#7b3294', available: '#1a7a3a', 'cgroup-usage': '#8c510a', 'cgroup-limit': '#8c510a', 'gpu-used': '#00798c', 'gpu-total': '#00798c', psi: '#333333', commit: '#80521a', 'commit-limit': '#80521a' },
    lowFree: '#d7191c',
    lowFreeOpacity: 0.2,
    overlap: '#9a6b00',
    overlapOpacity: 0.2,
    badge: '#24292f',
    badgeText: '#ffffff',
  },
  dark: {
    name: 'dark',
    background: '#0d1117',
    panel: '#161b22',
    frame: '#30363d',
    grid: '#21262d',
    gridTime: '#1c2128',
    title: '#f0f6fc',
    heading: '#e6edf3',
    text: '#c9d1d9',
    muted: '#8b949e',
    marker: '#c9d1d9',
    decision: '#f5f5f5',
    server: '#8b949e',
    discovery: '#6e7681',
    other: '#a0a8b2',
    models: ['#56b4e9', '#e69f00', '#2bc79a', '#e38dc0', '#a9a9f5', '#e0d85a'],
    series: { wired: '#c39bd3', compressor: '#b1bac4', 'swap-used': '#f07ab8', free: '#56d364', 'free-pct': '#d0d7de', used: '#c39bd3', available: '#56d364', 'cgroup-usage': '#d9a066', 'cgroup-limit': '#d9a066', 'gpu-used': '#39c5cf', 'gpu-total': '#39c5cf', psi: '#e6edf3', commit: '#fdb863', 'commit-limit': '#fdb863' },
    lowFree: '#ff6b6b',
    lowFreeOpacity: 0.3,
    overlap: '#e3b341',
    overlapOpacity: 0.2,
    badge: '#e6edf3',
    badgeText: '#0d1117',
  },
}

/** Dashes for the second and later GPUs, used and total, so each GPU has a line of its own. */
const GPU_DASHES: Record<string, (string | undefined)[]> = { 'gpu-used': [undefined, '2 2', '6 2 2 2'], 'gpu-total': ['8 4', '12 3 3 3', '3 6'] }

/**
 * The dash of a system series: a GPU's by its place among the trace's GPUs
 * (`names`), not its number, so a lone `card1` (AMD numbers GPUs by their DRM
 * card) is drawn solid like a lone GPU 0.
 */
export function seriesDash(name: string, names: readonly string[] = []): string | undefined {
  const [kind] = name.split(':')
  const gpu = GPU_DASHES[kind as string]
  if (gpu) {
    const place = names.filter(n => n.startsWith(`${kind}:`)).indexOf(name)
    return gpu[(place < 0 ? Number(name.split(':')[1] ?? 0) : place) % gpu.length]
  }
  return SERIES_STYLE[kind as string]?.dash
}

/** The theme colour of a system series (`gpu-used:0` → the `gpu-used` colour). */
export function seriesColor(name: string, th: Theme): string {
  return th.series[name.split(':')[0] as string] ?? th.muted
}
