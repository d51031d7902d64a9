import type { HostTensor, NodeProto } from '../onnx/index.js';
import type { Emitter } from './emitter.js';
import type { TensorInfo } from './infer.js';

/**
 * The gradient of one operator type. Rules are pure functions of a context;
 * the registry maps op types to them.
 */
export interface GradRule {
  /**
   * The forward tensors the backward graph reads, at run time, either as values
   * or just for their shapes. The context refuses any other forward tensor, so
   * this list is what a memory planner may rely on.
   */
  readonly saves: { readonly inputs?: readonly number[] | 'all'; readonly outputs?: readonly number[] };
  /**
   * Input positions gradients can flow to. Shape, index, axes and condition
   * inputs are not differentiable and stop activity analysis.
   */
  readonly differentiable: readonly number[] | 'all';
  /**
   * Returns the gradient (a tensor with exactly the input's shape) for each
   * input position that `ctx.wants(i)`, undefined elsewhere.
   */
  backward(ctx: GradContext): Array<string | undefined>;
}

export interface GradContext {
  readonly node: NodeProto;
  readonly emit: Emitter;
  /** Opset of the generated graph. */
  readonly opset: number;
  /** Name of forward input i; the rule must list i in `saves.inputs`. */
  input(i: number): string;
  /**
   * Name of forward output i; the rule must list i in `saves.outputs`. An
   * optional output the forward node leaves out is added to it, so a rule can
   * reuse statistics the forward op computes anyway.
   */
  output(i: number): string;
  /** Whether optional input i is present. */
  hasInput(i: number): boolean;
  /** Static knowledge of input i (element type, dims, small integer values); no run-time read. */
  inInfo(i: number): TensorInfo;
  outInfo(i: number): TensorInfo;
  /** Static rank of input i; fails with a clear message when it cannot be inferred. */
  inRank(i: number): number;
  outRank(i: number): number;
  /** Input i's value when it is a compile-time constant (Constant node or frozen initializer). */
  constant(i: number): HostTensor | undefined;
  /** Input i's integer values when statically known (constants or folded shape arithmetic). */
  ints(i: number): number[] | undefined;
  /** The incoming gradient of output i, or undefined when no gradient reaches it. */
  grad(i: number): string | undefined;
  /** Whether input i needs a gradient. */
  wants(i: number): boolean;
  /** Throws an error naming the node. */
  fail(message: string): never;
}
