/**
 * Server-side rendering of Vega-Lite specs to standalone SVG: vega-lite compiles the spec to Vega,
 * a headless vega View (renderer 'none', no DOM, no canvas) renders it with View.toSVG. Fonts are
 * measured by vega's built-in estimate, so no canvas package is needed.
 */
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const vegaSpec = compile(spec).spec;
  const view = new View(parse(vegaSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
