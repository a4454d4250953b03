// The report's chart, as the HyParView paper draws it: reliability (y) against the share of nodes
// that failed (x), one line per healing round. Hand-written SVG, no dependency.
import type { Report } from './report';

const WIDTH = 800;
const HEIGHT = 480;
const MARGIN = { left: 70, right: 210, top: 50, bottom: 60 };
/** Distinct, colour-blind-friendly colours (Okabe–Ito), one per healing round. */
const COLOURS = ['#D55E00', '#E69F00', '#009E73', '#0072B2', '#CC79A7', '#56B4E9', '#F0E442', '#000000'];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

const number = (value: number): string => String(Math.round(value * 100) / 100);

/** Advance widths of DejaVu Sans (the usual sans-serif on Linux, wider than Arial), in ems, for the characters the legend uses. */
const ADVANCE: Readonly<Record<string, number>> = {
  ' ': 0.318, '.': 0.318, ':': 0.337, '%': 0.95, '+': 0.838, '(': 0.39, ')': 0.39, '–': 0.5,
  a: 0.613, d: 0.635, e: 0.615, g: 0.635, h: 0.634, i: 0.278, l: 0.278, m: 0.974, n: 0.634, o: 0.612, r: 0.411, s: 0.521, u: 0.634,
};

/** An estimate of how wide `text` is drawn at `fontSize` px in the chart's sans-serif, on the wide side. */
export function textWidth(text: string, fontSize: number): number {
  let ems = 0;
  for (const character of text) ems += /[0-9]/.test(character) ? 0.636 : (ADVANCE[character] ?? 0.7);
  return ems * fontSize;
}

const FONT_SIZE = 12;
/** The legend's box, right of the plot: its entries' lines and text stay inside it. */
const LEGEND = { left: WIDTH - MARGIN.right + 16, right: WIDTH, top: MARGIN.top + 10, bottom: HEIGHT - 8 };

interface LegendEntry {
  readonly round: number;
  readonly colour: string;
  /** The label in one column: "5 healing rounds", with the value when there is one failure rate. */
  readonly long: string;
  /** The label in a grid under a "healing rounds" heading: "5", with the value likewise. */
  readonly short: string;
}

interface LegendItem {
  /** Where the colour line starts and the text's baseline. */
  readonly x: number;
  readonly y: number;
  readonly swatch: number;
  readonly text: string;
}

/**
 * Where each healing round's legend entry goes. Up to 21 rounds (the default 5 among them) it is
 * one column of full labels, 20 px apart. More rounds ran past the bottom of the chart: they go
 * in a grid of short labels under a heading, as many columns as fit beside the plot, and when even
 * that is too few places, the last row says how many rounds are left out (their lines are drawn
 * all the same, each with its round in its tooltip).
 */
function legendLayout(entries: readonly LegendEntry[]): { items: Map<number, LegendItem>; notes: { x: number; y: number; text: string }[] } {
  const items = new Map<number, LegendItem>();
  const width = LEGEND.right - LEGEND.left;
  const oneColumn = LEGEND.top + (entries.length - 1) * 20 + 4 <= LEGEND.bottom && entries.every((entry) => 30 + textWidth(entry.long, FONT_SIZE) <= width);
  if (oneColumn) {
    entries.forEach((entry, index) => items.set(entry.round, { x: LEGEND.left, y: LEGEND.top + index * 20, swatch: 24, text: entry.long }));
    return { items, notes: [] };
  }
  const rowHeight = 16;
  const swatch = 14;
  const columnWidth = swatch + 4 + Math.max(...entries.map((entry) => textWidth(entry.short, FONT_SIZE))) + 10;
  const columns = Math.max(1, Math.floor((width + 10) / columnWidth));
  const firstRow = LEGEND.top + 18;
  const rows = Math.floor((LEGEND.bottom - 4 - firstRow) / rowHeight) + 1;
  const notes = [{ x: LEGEND.left, y: LEGEND.top + 4, text: 'healing rounds' }];
  const places = rows * columns;
  // Too many for the places: the last row says how many are left out.
  const shown = entries.length <= places ? entries.length : places - columns;
  // Down each column, then across, as many rows as that takes, so the rounds read in order.
  const rowsUsed = Math.ceil(shown / columns);
  entries.slice(0, shown).forEach((entry, index) => {
    items.set(entry.round, { x: LEGEND.left + Math.floor(index / rowsUsed) * columnWidth, y: firstRow + (index % rowsUsed) * rowHeight, swatch, text: entry.short });
  });
  if (shown < entries.length) {
    const hidden = entries.slice(shown);
    notes.push({ x: LEGEND.left, y: firstRow + rowsUsed * rowHeight + 4, text: `+ ${hidden.length} more (${hidden[0]!.round}–${hidden[hidden.length - 1]!.round})` });
  }
  return { items, notes };
}

export function renderChart(report: Report): string {
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (rate: number): number => MARGIN.left + rate * plotWidth;
  const y = (reliability: number): number => MARGIN.top + (1 - reliability) * plotHeight;
  const parts: string[] = [];
  const title = `HyParView + Plumtree, ${report.parameters.nodes} nodes, seed ${report.seed}: reliability after failures`;
  parts.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12" role="img" aria-label="${escapeXml(title)}">`,
  );
  parts.push(`<title>${escapeXml(title)}</title>`);
  parts.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`);
  parts.push(`<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`);
  // Grid and axes.
  for (let tick = 0; tick <= 10; tick += 1) {
    const value = tick / 10;
    parts.push(`<line x1="${number(x(value))}" y1="${MARGIN.top}" x2="${number(x(value))}" y2="${MARGIN.top + plotHeight}" stroke="#e5e5e5"/>`);
    parts.push(`<line x1="${MARGIN.left}" y1="${number(y(value))}" x2="${MARGIN.left + plotWidth}" y2="${number(y(value))}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${number(x(value))}" y="${MARGIN.top + plotHeight + 18}" text-anchor="middle">${tick * 10}</text>`);
    parts.push(`<text x="${MARGIN.left - 8}" y="${number(y(value) + 4)}" text-anchor="end">${tick * 10}</text>`);
  }
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#333333"/>`);
  parts.push(`<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 18}" text-anchor="middle">failed nodes (%)</text>`);
  parts.push(`<text transform="translate(20 ${MARGIN.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">reliability (% of live nodes that delivered)</text>`);
  // One line per healing round, with a marker per failure rate (a single rate is a single point).
  const rounds = report.parameters.healingRounds.map((round, index) => {
    const colour = COLOURS[index % COLOURS.length]!;
    const points = report.failures
      .map((failure) => ({ rate: failure.rate, reliability: failure.reliability[String(round)] }))
      .filter((point): point is { rate: number; reliability: number } => point.reliability !== undefined && !Number.isNaN(point.reliability));
    const label = `${round} healing round${round === 1 ? '' : 's'}`;
    // With one failure rate the lines are single points that may overlap: the legend gives the values.
    const only = report.failures.length === 1 ? points[0] : undefined;
    const value = only === undefined ? '' : `: ${number(only.reliability * 100)}%`;
    return { round, colour, points, label, long: `${label}${value}`, short: `${round}${value}` };
  });
  const legend = legendLayout(rounds);
  for (const { round, colour, points, label } of rounds) {
    parts.push(`<g class="healing-round" data-round="${round}">`);
    parts.push(`<title>${escapeXml(label)}</title>`);
    parts.push(
      `<polyline data-round="${round}" fill="none" stroke="${colour}" stroke-width="2" points="${points.map((point) => `${number(x(point.rate))},${number(y(point.reliability))}`).join(' ')}"/>`,
    );
    for (const point of points) {
      parts.push(
        `<circle cx="${number(x(point.rate))}" cy="${number(y(point.reliability))}" r="3.5" fill="${colour}"><title>${escapeXml(`${label}, ${number(point.rate * 100)}% failed: ${number(point.reliability * 100)}%`)}</title></circle>`,
      );
    }
    const item = legend.items.get(round);
    if (item !== undefined) {
      parts.push(`<line class="legend" x1="${number(item.x)}" y1="${item.y}" x2="${number(item.x + item.swatch)}" y2="${item.y}" stroke="${colour}" stroke-width="2"/>`);
      parts.push(`<text class="legend" x="${number(item.x + item.swatch + 6)}" y="${item.y + 4}">${escapeXml(item.text)}</text>`);
    }
    parts.push(`</g>`);
  }
  for (const note of legend.notes) parts.push(`<text class="legend" x="${number(note.x)}" y="${note.y}">${escapeXml(note.text)}</text>`);
  parts.push(`</svg>`);
  return `${parts.join('\n')}\n`;
}
