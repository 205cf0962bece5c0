/**
 * The report page: one self-contained HTML file (inline CSS, SVG figures inlined, the Vega-Lite
 * spec of each figure embedded as inert JSON), with no script and no network request, so it opens
 * offline from file:// and prints cleanly.
 */

export interface HtmlFigure {
  id: string;
  title: string;
  caption: string;
  svg: string;
  /** Vega-Lite spec, embedded for reuse. */
  spec: unknown;
  /** File name of the SVG beside the page. */
  file: string;
  /** A small chart with a short caption, laid out several to a row. */
  compact?: boolean;
}

export interface HtmlTable {
  head: string[];
  rows: (string | number)[][];
  /** Row indexes to highlight. */
  highlight?: number[];
}

export interface HtmlSection {
  title: string;
  /** Paragraphs of plain text (escaped). */
  paragraphs?: string[];
  /** Bulleted plain-text items (escaped). */
  bullets?: string[];
  table?: HtmlTable;
  /** Links to pages beside this one (relative URLs). */
  links?: { text: string; href: string }[];
  figures?: HtmlFigure[];
  /** Collapsed by default. */
  collapsed?: boolean;
}

export interface HtmlPage {
  title: string;
  subtitle: string;
  sections: HtmlSection[];
}

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** JSON safe inside <script type="application/json"> (no "</script>" can close it). */
function inertJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

/** Strips the XML prolog so the SVG can be inlined, and labels it for assistive tech. */
function inlineSvg(svg: string, title: string): string {
  return svg
    .replace(/^<\?xml[^>]*>\s*/, '')
    .replace('<svg ', `<svg role="img" aria-label="${escapeHtml(title)}" `);
}

function renderTable(table: HtmlTable): string {
  const head = table.head.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const rows = table.rows
    .map((row, i) => {
      const cls = table.highlight?.includes(i) ? ' class="hl"' : '';
      return `<tr${cls}>${row.map((c) => `<td>${escapeHtml(String(c))}</td>`).join('')}</tr>`;
    })
    .join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${rows}\n</tbody></table>`;
}

function renderFigure(f: HtmlFigure): string {
  return `<figure class="chart${f.compact ? ' compact' : ''}" id="${escapeHtml(f.id)}">
${inlineSvg(f.svg, f.title)}
<figcaption>${escapeHtml(f.caption)} <a href="figures/${escapeHtml(f.file)}">SVG</a></figcaption>
<script type="application/json" class="vega-lite-spec" data-figure="${escapeHtml(f.id)}">${inertJson(f.spec)}</script>
</figure>`;
}

function renderSection(s: HtmlSection): string {
  const parts: string[] = [];
  for (const p of s.paragraphs ?? []) parts.push(`<p>${escapeHtml(p)}</p>`);
  if (s.bullets?.length) {
    parts.push(`<ul>${s.bullets.map((b) => `<li>${escapeHtml(b)}</li>`).join('\n')}</ul>`);
  }
  if (s.table) parts.push(renderTable(s.table));
  if (s.links?.length) {
    const items = s.links.map(
      (l) => `<li><a href="${escapeHtml(l.href)}">${escapeHtml(l.text)}</a></li>`,
    );
    parts.push(`<ul>${items.join('\n')}</ul>`);
  }
  for (const f of s.figures ?? []) parts.push(renderFigure(f));
  const body = parts.join('\n');
  if (s.collapsed) {
    return `<section><details><summary><h2>${escapeHtml(s.title)}</h2></summary>\n${body}\n</details></section>`;
  }
  return `<section><h2>${escapeHtml(s.title)}</h2>\n${body}\n</section>`;
}

const CSS = `
body{font:15px/1.5 Helvetica,Arial,sans-serif;color:#222;max-width:1100px;margin:2em auto;padding:0 1em;background:#fff}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin:1.4em 0 .5em}
summary h2{display:inline-block;margin:1em 0 .5em}
.sub{color:#555;margin-top:0}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f2f2f2}
tr.hl td{background:#fff6d6}
figure.chart{display:inline-block;margin:.6em 1.2em .8em 0;vertical-align:top}
section{clear:both}
figure.chart svg{max-width:100%;height:auto}
figcaption{font-size:.88em;color:#555;max-width:620px}
figure.compact figcaption{max-width:380px}
summary{cursor:pointer}
`;

export function renderHtml(page: HtmlPage): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(page.title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeHtml(page.title)}</h1>
<p class="sub">${escapeHtml(page.subtitle)}</p>
${page.sections.map(renderSection).join('\n')}
</body>
</html>
`;
}
