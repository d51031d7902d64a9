// Charts of a simulation run: vega-lite specs, rendered to SVG in Node with
// vega's headless view (renderer 'none': no canvas or DOM needed).
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface ChartPoint {
  round: number;
  accuracy: number;
  /** Uplink bytes of all rounds up to and including this one. */
  cumulativeUplinkBytes: number;
}

const WIDTH = 480;
const HEIGHT = 300;

const accuracyAxis = () => ({
  field: 'accuracy',
  type: 'quantitative' as const,
  title: 'held-out accuracy',
  axis: { format: '.0%' },
  scale: { domain: [0, 1] },
});

/** Test accuracy of the published model after each round (0 = before training). */
export function accuracyByRoundSpec(points: readonly ChartPoint[], subtitle: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Held-out accuracy by round', subtitle },
    width: WIDTH,
    height: HEIGHT,
    data: { values: points.map((p) => ({ ...p })) },
    mark: { type: 'line', point: true },
    encoding: {
      x: {
        field: 'round',
        type: 'quantitative',
        title: 'rounds completed',
        axis: { tickMinStep: 1, format: 'd' },
      },
      y: accuracyAxis(),
    },
  };
}

/** The same accuracy against what it cost on the uplink: the bandwidth trade-off of the encodings. */
export function accuracyByUplinkSpec(points: readonly ChartPoint[], subtitle: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Held-out accuracy by cumulative uplink', subtitle },
    width: WIDTH,
    height: HEIGHT,
    data: { values: points.map((p) => ({ ...p, uplinkMB: p.cumulativeUplinkBytes / 1e6 })) },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'uplinkMB', type: 'quantitative', title: 'cumulative uplink (MB)' },
      y: accuracyAxis(),
    },
  };
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
