/** Fixed colours, so the same trace always draws the same. */

export const PROCESS_COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2', '#bcbd22', '#393b79']

export const SERIES_STYLE: Record<string, { color: string; label: string; dash?: string }> = {
  wired: { color: '#7b3294', label: 'wired' },
  compressor: { color: '#e66101', label: 'compressor' },
  'swap-used': { color: '#c51b7d', label: 'swap used', dash: '6 3' },
  free: { color: '#1a9641', label: 'free' },
  'free-pct': { color: '#2c7bb6', label: 'free %', dash: '3 2' },
  used: { color: '#7b3294', label: 'used (total − available)' },
  available: { color: '#1a9641', label: 'available' },
  'cgroup-usage': { color: '#8c510a', label: 'container usage' },
  'cgroup-limit': { color: '#8c510a', label: 'container limit', dash: '8 4' },
  'gpu-used': { color: '#e66101', label: 'GPU used' },
  'gpu-total': { color: '#e66101', label: 'GPU total', dash: '8 4' },
}

/** The chart's neutral colours; the data colours above read on both. */
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
  server: string
  discovery: string
}

export const THEMES: Record<'light' | 'dark', Theme> = {
  light: { name: 'light', background: '#ffffff', panel: '#fcfcfc', frame: '#cccccc', grid: '#e4e4e4', gridTime: '#eeeeee', title: '#111111', heading: '#222222', text: '#333333', muted: '#555555', marker: '#333333', server: '#555555', discovery: '#b0b0b0' },
  dark: { name: 'dark', background: '#0d1117', panel: '#161b22', frame: '#30363d', grid: '#21262d', gridTime: '#1c2128', title: '#f0f6fc', heading: '#e6edf3', text: '#c9d1d9', muted: '#8b949e', marker: '#c9d1d9', server: '#8b949e', discovery: '#6e7681' },
}
