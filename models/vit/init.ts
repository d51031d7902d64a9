// Seeded weight initialisation for the builder. Draw order is part of the
// contract: the same config and seed give byte-identical models.
import { gaussian, mulberry32 } from '../../common/random.js';
import { float32, type HostTensor, numel } from '../onnx/tensor.js';

export class WeightInit {
  private readonly normal: () => number;

  constructor(seed: number) {
    this.normal = gaussian(mulberry32(seed));
  }

  /** Normal(0, std) truncated at two standard deviations (resampled), as timm's trunc_normal_ does. */
  truncNormal(dims: number[], std = 0.02): HostTensor {
    const t = float32(dims);
    for (let i = 0; i < t.data.length; i++) {
      let z = this.normal();
      while (Math.abs(z) > 2) z = this.normal();
      t.data[i] = z * std;
    }
    return t;
  }

  zeros(dims: number[]): HostTensor {
    return float32(dims);
  }

  ones(dims: number[]): HostTensor {
    return float32(dims, new Float32Array(numel(dims)).fill(1));
  }
}
