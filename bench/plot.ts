/**
 * Figures: a Vega-Lite spec compiled to Vega and rendered to SVG headlessly with vega's
 * `View.toSVG()` (no browser, no canvas: text is measured by estimate, which is fine for SVG).
 * The spec is written next to the SVG, so a figure can be re-rendered or edited.
 * @module
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

export type VegaLiteSpec = TopLevelSpec;

/** Renders `spec` to `${path}.svg` and writes the spec to `${path}.vl.json`; returns the SVG path. */
export async function renderFigure(spec: VegaLiteSpec, path: string): Promise<string> {
  const full = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    background: "white",
    config: { font: "sans-serif", axis: { grid: true }, legend: { orient: "right" } },
    ...spec,
  } as VegaLiteSpec;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.vl.json`, JSON.stringify(full, null, 2) + "\n");
  const view = new vega.View(vega.parse(compile(full).spec), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  writeFileSync(`${path}.svg`, svg);
  return `${path}.svg`;
}
