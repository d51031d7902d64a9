import { describe, expect, it } from 'vitest';
import { accuracyByRoundSpec, accuracyByUplinkSpec, renderSvg } from '../../../scripts/sim/charts.js';

const points = [
  { round: 0, accuracy: 0.1, cumulativeUplinkBytes: 0 },
  { round: 1, accuracy: 0.55, cumulativeUplinkBytes: 2_500_000 },
  { round: 2, accuracy: 0.68, cumulativeUplinkBytes: 5_000_000 },
];

describe('simulation charts', () => {
  it('renders accuracy by round to SVG', async () => {
    const svg = await renderSvg(accuracyByRoundSpec(points, '3 clients, int8'));
    expect(svg).toContain('<svg');
    expect(svg).toContain('Held-out accuracy by round');
    expect(svg).toContain('3 clients, int8');
    expect(svg).toContain('</svg>');
  });

  it('renders accuracy by cumulative uplink to SVG', async () => {
    const spec = accuracyByUplinkSpec(points, 'subtitle');
    expect(spec.data).toEqual({ values: expect.arrayContaining([expect.objectContaining({ uplinkMB: 5 })]) });
    const svg = await renderSvg(spec);
    expect(svg).toContain('<svg');
    expect(svg).toContain('cumulative uplink (MB)');
  });
});
