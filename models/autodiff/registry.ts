// Op type -> gradient rule. One rule per file under rules/.
//
// Supported (default ONNX domain, opset 13 and later semantics):
//   elementwise   Add Sub Mul Div Pow Sqrt Erf Exp Log Neg Relu Sigmoid Tanh
//                 Gelu (exact; also the five-node erf spelling, see patterns.ts)
//   linear        MatMul Gemm Conv (group 1)
//   normalization LayerNormalization Softmax LogSoftmax ReduceMean ReduceSum
//   structural    Reshape Flatten Squeeze Unsqueeze Transpose Concat Slice Gather
//                 Expand Where Identity Dropout (inference) Cast (float to float)
// Integer shape arithmetic (Shape, Gather on shapes, Unsqueeze/Concat of ints,
// Cast to int, Equal, ConstantOfShape, Range, ...) needs no rule: activity
// analysis never reaches it, because only float tensors carry gradients.
import type { GradRule } from './rule.js';
import { add } from './rules/add.js';
import { cast } from './rules/cast.js';
import { concat } from './rules/concat.js';
import { conv } from './rules/conv.js';
import { div } from './rules/div.js';
import { dropout } from './rules/dropout.js';
import { erf } from './rules/erf.js';
import { exp } from './rules/exp.js';
import { expand } from './rules/expand.js';
import { flatten } from './rules/flatten.js';
import { gather } from './rules/gather.js';
import { gelu } from './rules/gelu.js';
import { gemm } from './rules/gemm.js';
import { identity } from './rules/identity.js';
import { layerNormalization } from './rules/layer-normalization.js';
import { log } from './rules/log.js';
import { logSoftmax } from './rules/log-softmax.js';
import { matmul } from './rules/matmul.js';
import { mul } from './rules/mul.js';
import { neg } from './rules/neg.js';
import { pow } from './rules/pow.js';
import { reduceMean } from './rules/reduce-mean.js';
import { reduceSum } from './rules/reduce-sum.js';
import { relu } from './rules/relu.js';
import { reshape } from './rules/reshape.js';
import { sigmoid } from './rules/sigmoid.js';
import { slice } from './rules/slice.js';
import { softmax } from './rules/softmax.js';
import { sqrt } from './rules/sqrt.js';
import { squeeze } from './rules/squeeze.js';
import { sub } from './rules/sub.js';
import { tanh } from './rules/tanh.js';
import { transpose } from './rules/transpose.js';
import { unsqueeze } from './rules/unsqueeze.js';
import { where } from './rules/where.js';

export const gradientRules: Readonly<Record<string, GradRule>> = {
  Add: add,
  Cast: cast,
  Concat: concat,
  Conv: conv,
  Div: div,
  Dropout: dropout,
  Erf: erf,
  Exp: exp,
  Expand: expand,
  Flatten: flatten,
  Gather: gather,
  Gelu: gelu,
  Gemm: gemm,
  Identity: identity,
  LayerNormalization: layerNormalization,
  Log: log,
  LogSoftmax: logSoftmax,
  MatMul: matmul,
  Mul: mul,
  Neg: neg,
  Pow: pow,
  ReduceMean: reduceMean,
  ReduceSum: reduceSum,
  Relu: relu,
  Reshape: reshape,
  Sigmoid: sigmoid,
  Slice: slice,
  Softmax: softmax,
  Sqrt: sqrt,
  Squeeze: squeeze,
  Sub: sub,
  Tanh: tanh,
  Transpose: transpose,
  Unsqueeze: unsqueeze,
  Where: where,
};

export function ruleFor(opType: string): GradRule | undefined {
  return Object.hasOwn(gradientRules, opType) ? gradientRules[opType] : undefined;
}

export const supportedOps: readonly string[] = Object.keys(gradientRules).sort();
