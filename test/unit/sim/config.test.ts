import { describe, expect, it } from 'vitest';
import { FederationConfig } from '../../../protocol/federation.js';
import { federationConfig, parseSimArgs } from '../../../scripts/sim/config.js';

const configOf = (argv: string[]) => FederationConfig.parse(federationConfig(parseSimArgs(argv)));

describe('the simulator’s federation', () => {
  it('is the default deployment without flags: clipped FedAvg, no defence', () => {
    const c = configOf([]);
    expect(c.strategy.kind).toBe('clipped-fedavg');
    expect(c.activationNoise).toBe(0);
    expect(c.decorrelation).toBe(0);
    expect(c.secureAggregation).toBeUndefined();
  });

  it('turns on each defence its flags name, as a federation config that validates', () => {
    const c = configOf(['--secure-aggregation', '--activation-noise', '0.3', '--decorrelation', '2']);
    expect(c.strategy.kind).toBe('fedavg');
    expect(c.secureAggregation?.threshold).toBe(0.6);
    expect(c.activationNoise).toBe(0.3);
    expect(c.decorrelation).toBe(2);
    expect(configOf(['--fedavg']).strategy.kind).toBe('fedavg');
  });

  it('shares the tail with --splitfed, which implies plain FedAvg, and trims work with --min-work', () => {
    const v2 = configOf(['--splitfed', 'v2']);
    expect(v2).toMatchObject({ splitfed: 'v2', strategy: { kind: 'fedavg' } });
    const auto = configOf([
      '--planner',
      'on',
      '--splitfed',
      'auto',
      '--edge-sessions',
      '4',
      '--min-work',
      '0.9',
    ]);
    expect(auto).toMatchObject({ splitfed: 'auto', planning: { edgeSessions: 4, minWork: 0.9 } });
    expect(configOf([]).splitfed).toBe('v1');
  });
});
