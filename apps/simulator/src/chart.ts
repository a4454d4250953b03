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
  report.parameters.healingRounds.forEach((round, index) => {
    const colour = COLOURS[index % COLOURS.length]!;
    const points = report.failures
      .map((failure) => ({ rate: failure.rate, reliability: failure.reliability[String(round)] }))
      .filter((point): point is { rate: number; reliability: number } => point.reliability !== undefined && !Number.isNaN(point.reliability));
    const label = `${round} healing round${round === 1 ? '' : 's'}`;
    // With one failure rate the lines are single points that may overlap: the legend gives the values.
    const only = report.failures.length === 1 ? points[0] : undefined;
    const legend = only === undefined ? label : `${label}: ${number(only.reliability * 100)}%`;
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
    const legendY = MARGIN.top + 10 + index * 20;
    parts.push(`<line x1="${MARGIN.left + plotWidth + 16}" y1="${legendY}" x2="${MARGIN.left + plotWidth + 40}" y2="${legendY}" stroke="${colour}" stroke-width="2"/>`);
    parts.push(`<text x="${MARGIN.left + plotWidth + 46}" y="${legendY + 4}">${escapeXml(legend)}</text>`);
    parts.push(`</g>`);
  });
  parts.push(`</svg>`);
  return `${parts.join('\n')}\n`;
}
