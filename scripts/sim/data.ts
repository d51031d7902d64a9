// The federated data of a run: Fashion-MNIST's seeded train/test split, the
// train part dealt to the clients by Dirichlet(alpha), each share capped, and
// the held-out images every version is scored on. Written for any run config
// with these fields, so the split simulator can share it.
import type { LocalDataset } from '../../client-sdk/trainer/types.js';
import { type Dataset, loadFashionMnist, trainTestSplit } from '../../datasets/index.js';
import { clientDatasets } from './clients.js';
import type { SimConfig } from './config.js';
import { dirichletPartition, labelSkew } from './dirichlet.js';
import type { SimResults } from './results.js';

export type DataConfig = Pick<SimConfig, 'clients' | 'alpha' | 'seed' | 'samplesPerClient' | 'evalSamples'>;

export interface FederatedData {
  dataset: Dataset;
  /** Client i's examples. */
  clients: LocalDataset[];
  evalIndices: Int32Array;
  /** The fields of a run's results that describe its data. */
  summary: Pick<SimResults, 'eval_samples' | 'train_samples' | 'label_skew' | 'client_samples'>;
}

export async function federatedData(config: DataConfig): Promise<FederatedData> {
  const dataset = await loadFashionMnist();
  const split = trainTestSplit(dataset, { seed: 0 });
  const parts = dirichletPartition(split.train, dataset.labels, dataset.classes.length, {
    clients: config.clients,
    alpha: config.alpha,
    seed: config.seed,
  });
  const clients = clientDatasets(dataset, parts, config.samplesPerClient);
  const evalIndices = config.evalSamples > 0 ? split.test.subarray(0, config.evalSamples) : split.test;
  const sizes = clients.map((d) => d.size).sort((a, b) => a - b);
  return {
    dataset,
    clients,
    evalIndices,
    summary: {
      eval_samples: evalIndices.length,
      train_samples: sizes.reduce((a, b) => a + b, 0),
      label_skew: labelSkew(
        clients.map((d, i) => parts[i].subarray(0, d.size)),
        dataset.labels,
        dataset.classes.length,
      ),
      client_samples: {
        min: sizes[0],
        median: sizes[Math.floor(sizes.length / 2)],
        max: sizes[sizes.length - 1],
      },
    },
  };
}
