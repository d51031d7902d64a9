import { graphOf } from './model.js';
import type { ModelProto } from './proto.js';
import { fromTensorProto, type HostTensor, toTensorProto } from './tensor.js';

/**
 * Replaces initializer values by name (e.g. pretrained weights over a freshly
 * built graph). Every given tensor must name an existing initializer of the
 * same shape and type, so a weights file cannot silently miss the model.
 */
export function replaceInitializers(model: ModelProto, values: ReadonlyMap<string, HostTensor>): void {
  const graph = graphOf(model);
  const inits = graph.initializer ?? [];
  const index = new Map(inits.map((t, i) => [t.name ?? '', i]));
  for (const [name, value] of values) {
    const i = index.get(name);
    if (i === undefined) throw new Error(`weights: the model has no initializer named ${name}`);
    const current = fromTensorProto(inits[i]);
    if (current.dtype !== value.dtype || current.dims.join(',') !== value.dims.join(',')) {
      throw new Error(
        `weights: ${name} is ${value.dtype}[${value.dims}], the model has ${current.dtype}[${current.dims}]`,
      );
    }
    inits[i] = toTensorProto(name, value);
  }
}
