// The body `federation create` sends: defaults under the file under the
// flags, validated by the API's own schema.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../cli/errors.js';
import { federationBody, mergeConfig } from '../../../cli/federation-config.js';
import { FederationConfig } from '../../../protocol/federation.js';

describe('the federation config of `federation create`', () => {
  it('is a valid federation from the model alone, as the simulator would run it', () => {
    const { config } = federationBody('f', {}, { model: 'vit-fashion' });
    const parsed = FederationConfig.parse(config);
    expect(parsed).toMatchObject({ rounds: 5, clientsPerRound: 10, quorum: 8, uplink: 'int8' });
    expect(parsed.headOptimizer).toEqual({ kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 0 });
    expect(parsed.strategy.kind).toBe('clipped-fedavg');
  });

  it('takes the file over the defaults and the flags over the file', () => {
    const file = { modelId: 'a', rounds: 2, clientsPerRound: 4, headOptimizer: { kind: 'adamw', lr: 0.002 } };
    const c = mergeConfig(file, { model: 'b', perRound: 5, lrHead: 0.003, lrTail: 0.2 });
    expect(c).toMatchObject({ modelId: 'b', rounds: 2, clientsPerRound: 5, quorum: 4 });
    expect(c.headOptimizer).toEqual({ kind: 'adamw', lr: 0.003 });
    expect(c.tailOptimizer).toEqual({ kind: 'sgd', lr: 0.2, momentum: 0.9, weightDecay: 0 });
  });

  it('switches both optimizers’ kind, keeping their rates', () => {
    const c = mergeConfig({}, { optimizer: 'adamw', lrTail: 0.5 });
    expect(c.headOptimizer).toEqual({ kind: 'adamw', lr: 0.01, weightDecay: 0.01 });
    expect(c.tailOptimizer).toEqual({ kind: 'adamw', lr: 0.5, weightDecay: 0.01 });
  });

  it('keeps a file’s secure-aggregation settings under the flag, and names strategies by kind', () => {
    const file = { secureAggregation: { threshold: 0.8 } };
    const c = mergeConfig(file, { secureAggregation: true, strategy: 'fedavg' });
    expect(c.secureAggregation).toEqual({ threshold: 0.8 });
    expect(c.strategy).toEqual({ kind: 'fedavg' });
    expect(mergeConfig({}, { secureAggregation: true }).secureAggregation).toEqual({});
  });

  it('fails with every issue the API would raise, before sending', () => {
    const attempt = () =>
      federationBody('f', {}, { model: 'm', perRound: 2, secureAggregation: true, strategy: 'median' });
    expect(attempt).toThrow(UsageError);
    try {
      attempt();
    } catch (err) {
      const paths = (err as UsageError).zodError?.issues.map((i) => i.path.join('.'));
      expect(paths).toEqual(['config.secureAggregation', 'config.secureAggregation']);
    }
  });
});
