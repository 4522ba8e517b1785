import { crc32, deflateSync } from 'node:zlib';
import * as PImage from 'pureimage';

/** Line charts as PNG, drawn in pure JavaScript (pureimage) with the DejaVu Sans font: no browser, no native code. */
export interface Series {
  label: string;
  color: string;
  points: { x: number; y: number }[];
  /** Draws a dot on every point (for a few points, such as one per version). */
  dots?: boolean;
}

export interface Marker {
  x: number;
  y: number;
  label: string;
  color: string;
}

export interface Panel {
  title: string;
  series: Series[];
  markers?: Marker[];
  formatX: (x: number) => string;
  formatY: (y: number) => string;
  /** Draw the x ticks at the data's own x values (versions) instead of evenly spaced ones. */
  xTicksAtPoints?: boolean;
}

export interface ChartLayout {
  title: string;
  columns?: number;
  panelWidth?: number;
  panelHeight?: number;
}

const FONT = 'DejaVu Sans';
let fontLoaded = false;

function ensureFont(): void {
  if (fontLoaded) return;
  PImage.registerFont(require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans.ttf'), FONT).loadSync();
  fontLoaded = true;
}

/** About `count` round steps (1, 2 or 5 × 10^n) covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step) ticks.push(Number((Math.round(t / step) * step).toPrecision(12)));
  return ticks;
}

/** At most `max` points, evenly picked, first and last kept: a panel is a few hundred pixels wide. */
export function thin<T>(points: T[], max: number): T[] {
  if (points.length <= max) return points;
  if (max < 2) return points.slice(0, Math.max(0, max));
  const out: T[] = [];
  // i runs 0..max-1, so the index runs 0..points.length-1
  for (let i = 0; i < max; i++) out.push(points[Math.round((i * (points.length - 1)) / (max - 1))]!);
  return out;
}

type Ctx = ReturnType<ReturnType<typeof PImage.make>['getContext']>;

/**
 * Lines and dots written straight into the bitmap's RGBA bytes: pureimage's own stroke() fills a
 * polygon per segment and takes seconds for a chart; this takes milliseconds. Text stays pureimage's.
 */
class Raster {
  constructor(private readonly image: ReturnType<typeof PImage.make>) {}

  private blend(x: number, y: number, rgb: [number, number, number], alpha: number): void {
    x = Math.floor(x);
    y = Math.floor(y);
    if (x < 0 || y < 0 || x >= this.image.width || y >= this.image.height || alpha <= 0) return;
    const d = this.image.data;
    const i = (y * this.image.width + x) * 4;
    const a = Math.min(1, alpha);
    // (x, y) is inside the image (checked above), so its four bytes are there
    d[i] = Math.round(d[i]! * (1 - a) + rgb[0] * a);
    d[i + 1] = Math.round(d[i + 1]! * (1 - a) + rgb[1] * a);
    d[i + 2] = Math.round(d[i + 2]! * (1 - a) + rgb[2] * a);
    d[i + 3] = 255;
  }

  /** An anti-aliased line (Xiaolin Wu's), `width` pixels thick across its minor axis. */
  line(x0: number, y0: number, x1: number, y1: number, color: string, width = 1): void {
    const rgb = hex(color);
    const steep = Math.abs(y1 - y0) > Math.abs(x1 - x0);
    if (steep) [x0, y0, x1, y1] = [y0, x0, y1, x1];
    if (x0 > x1) [x0, y0, x1, y1] = [x1, y1, x0, y0];
    const gradient = x1 === x0 ? 0 : (y1 - y0) / (x1 - x0);
    const plot = (x: number, y: number, a: number) => (steep ? this.blend(y, x, rgb, a) : this.blend(x, y, rgb, a));
    for (let x = Math.round(x0); x <= Math.round(x1); x++) {
      const y = y0 + gradient * (x - x0) - (width - 1) / 2;
      const base = Math.floor(y);
      const frac = y - base;
      plot(x, base, 1 - frac);
      for (let k = 1; k < width; k++) plot(x, base + k, 1);
      plot(x, base + width, frac);
    }
  }

  disc(cx: number, cy: number, r: number, color: string): void {
    const rgb = hex(color);
    for (let y = Math.floor(cy - r - 1); y <= Math.ceil(cy + r + 1); y++) {
      for (let x = Math.floor(cx - r - 1); x <= Math.ceil(cx + r + 1); x++) {
        const distance = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
        this.blend(x, y, rgb, r + 0.5 - distance);
      }
    }
  }
}

function hex(color: string): [number, number, number] {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
  if (!m) throw new Error(`colour ${color} is not #rrggbb`);
  const [, r = '', g = '', b = ''] = m;
  return [parseInt(r, 16), parseInt(g, 16), parseInt(b, 16)];
}

function text(ctx: Ctx, value: string, x: number, y: number, size: number, color: string, align: 'left' | 'right' | 'center' = 'left'): void {
  ctx.font = `${size}px ${FONT}`;
  ctx.fillStyle = color;
  const width = ctx.measureText(value).width;
  ctx.fillText(value, align === 'left' ? x : align === 'right' ? x - width : x - width / 2, y);
}

function drawPanel(ctx: Ctx, r: Raster, p: Panel, left: number, top: number, width: number, height: number): void {
  const plot = { left: left + 64, top: top + 40, right: left + width - 16, bottom: top + height - 34 };
  text(ctx, p.title, left + 12, top + 22, 15, '#111111');

  const all = p.series.flatMap((s) => s.points).concat(p.markers ?? []);
  if (all.length === 0) {
    text(ctx, 'no data', (plot.left + plot.right) / 2, (plot.top + plot.bottom) / 2, 13, '#888888', 'center');
    return;
  }
  let [minX, maxX] = [Math.min(...all.map((q) => q.x)), Math.max(...all.map((q) => q.x))];
  let [minY, maxY] = [Math.min(...all.map((q) => q.y)), Math.max(...all.map((q) => q.y))];
  if (minX === maxX) [minX, maxX] = [minX - 1, maxX + 1];
  // Dots at the first and last x (one per version) are kept clear of the axes.
  if (p.xTicksAtPoints) [minX, maxX] = [minX - (maxX - minX) * 0.04, maxX + (maxX - minX) * 0.04];
  const pad = (maxY - minY || Math.abs(maxY) || 1) * 0.08;
  [minY, maxY] = [minY - pad, maxY + pad];
  const sx = (x: number) => plot.left + ((x - minX) / (maxX - minX)) * (plot.right - plot.left);
  const sy = (y: number) => plot.bottom - ((y - minY) / (maxY - minY)) * (plot.bottom - plot.top);

  for (const t of niceTicks(minY, maxY)) {
    r.line(plot.left, sy(t), plot.right, sy(t), '#e6e6e6');
    text(ctx, p.formatY(t), plot.left - 8, sy(t) + 4, 11, '#555555', 'right');
  }
  const xTicks = p.xTicksAtPoints ? [...new Set(all.map((q) => q.x))].sort((a, b) => a - b) : niceTicks(minX, maxX, 4);
  for (const t of thin(xTicks, 8)) {
    r.line(sx(t), plot.bottom, sx(t), plot.bottom + 4, '#555555');
    text(ctx, p.formatX(t), sx(t), plot.bottom + 18, 11, '#555555', 'center');
  }
  r.line(plot.left, plot.bottom, plot.right, plot.bottom, '#555555');
  r.line(plot.left, plot.top, plot.left, plot.bottom, '#555555');

  for (const s of p.series) {
    const pts = thin(s.points, plot.right - plot.left);
    let prev: (typeof pts)[number] | undefined;
    for (const q of pts) {
      if (prev) r.line(sx(prev.x), sy(prev.y), sx(q.x), sy(q.y), s.color, 2);
      prev = q;
    }
    if (s.dots || pts.length === 1) for (const q of pts) r.disc(sx(q.x), sy(q.y), 3.5, s.color);
  }
  for (const m of p.markers ?? []) {
    r.disc(sx(m.x), sy(m.y), 6, m.color);
    text(ctx, m.label, sx(m.x), sy(m.y) - 10, 11, m.color, 'center');
  }

  // Legend, top right, one entry per series.
  let x = plot.right;
  for (const s of [...p.series].reverse()) {
    ctx.font = `12px ${FONT}`;
    const w = ctx.measureText(s.label).width;
    text(ctx, s.label, x - w, top + 22, 12, '#333333');
    x -= w + 6;
    r.line(x - 16, top + 18, x, top + 18, s.color, 3);
    x -= 30;
  }
}

/** One PNG: a title over a grid of panels. */
export async function renderChart(panels: Panel[], layout: ChartLayout): Promise<Buffer> {
  ensureFont();
  const columns = Math.max(1, Math.min(layout.columns ?? 1, panels.length));
  const rows = Math.max(1, Math.ceil(panels.length / columns));
  const pw = layout.panelWidth ?? 640;
  const ph = layout.panelHeight ?? 320;
  const titleHeight = 44;
  const image = PImage.make(columns * pw, titleHeight + rows * ph);
  image.data.fill(255);
  const ctx = image.getContext('2d');
  text(ctx, layout.title, 14, 29, 18, '#000000');
  const raster = new Raster(image);
  panels.forEach((p, i) => drawPanel(ctx, raster, p, (i % columns) * pw, titleHeight + Math.floor(i / columns) * ph, pw, ph));
  return encodePng(image.width, image.height, image.data);
}

/**
 * RGBA bytes to PNG: IHDR, one zlib-compressed IDAT with the Sub filter on every row, IEND. (The
 * encoder behind pureimage tries five filters per row, which costs more than drawing the chart.)
 */
export function encodePng(width: number, height: number, rgba: Uint8Array): Buffer {
  const stride = width * 4;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (stride + 1);
    raw[row] = 1;
    // rgba holds height rows of stride bytes, so both indices are inside it
    for (let i = 0; i < stride; i++) raw[row + 1 + i] = (rgba[y * stride + i]! - (i >= 4 ? rgba[y * stride + i - 4]! : 0)) & 0xff;
  }
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'ascii');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8 bits per channel, RGBA, deflate, adaptive filtering, no interlace
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}
