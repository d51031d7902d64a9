// Loss heads appended to the forward graph. Each returns the scalar loss and
// the gradient of the loss with respect to the model output it reads.
import { DataType } from '../onnx/index.js';
import type { Emitter } from './emitter.js';

export interface LossParts {
  loss: string;
  grad: string;
}

/**
 * Mean cross-entropy over integer labels: logits [..., C], labels [...] (int64).
 * loss = mean(-log_softmax(logits)[label]); dlogits = (softmax - onehot) / count.
 * A label outside [0, C) matches no class: it contributes 0 to the sum but still
 * counts in the mean.
 */
export function crossEntropy(e: Emitter, logits: string, labels: string, lossName: string): LossParts {
  const logp = e.op('LogSoftmax', [logits], { axis: -1 });
  const classCount = e.op('Gather', [e.shape(logits), e.int(-1)], { axis: 0 });
  const classes = e.op('Range', [e.int(0), classCount, e.int(1)]);
  const onehot = e.op('Cast', [e.op('Equal', [e.unsqueeze(labels, [-1]), classes])], { to: DataType.FLOAT });
  const picked = e.reduceSum(e.mul(logp, onehot), [-1], false);
  const [loss] = e.node('Neg', [e.reduceMean(picked, undefined, false)], {}, [lossName]);
  const grad = e.div(e.sub(e.op('Exp', [logp]), onehot), e.countF(labels));
  return { loss, grad };
}

/** Mean squared error over every element: loss = mean((y - t)^2); dy = 2 (y - t) / count. */
export function meanSquaredError(e: Emitter, output: string, targets: string, lossName: string): LossParts {
  const diff = e.sub(output, targets);
  const [loss] = e.node('ReduceMean', [e.mul(diff, diff)], { keepdims: 0 }, [lossName]);
  const grad = e.div(e.mul(diff, e.scalar(2)), e.countF(output));
  return { loss, grad };
}
