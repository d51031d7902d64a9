// One training step's worth of work on onnxruntime-node: feed a batch, labels
// and the current trainables to a generated gradient graph; read the loss, the
// logits and one gradient per trainable.
import * as ort from 'onnxruntime-node';
import { encodeModel } from '../onnx/model.js';
import type { ModelProto } from '../onnx/proto.js';

export interface Trainable {
  dims: number[];
  data: Float32Array;
}

export interface StepOutput {
  loss: number;
  logits: Float32Array;
  grads: Record<string, Float32Array>;
}

export class GradSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly inputName: string,
  ) {}

  /** `model` comes from differentiate(): inputs are pixels, labels and the trainables. */
  static async create(
    model: ModelProto,
    options: ort.InferenceSession.SessionOptions = {},
  ): Promise<GradSession> {
    const session = await ort.InferenceSession.create(encodeModel(model), options);
    return new GradSession(session, session.inputNames[0]);
  }

  async step(
    pixels: Float32Array,
    shape: readonly number[],
    labels: ArrayLike<number>,
    trainables: Record<string, Trainable>,
  ): Promise<StepOutput> {
    const feeds: Record<string, ort.Tensor> = {
      [this.inputName]: new ort.Tensor('float32', pixels, shape),
      labels: new ort.Tensor('int64', BigInt64Array.from(Array.from(labels, BigInt)), [labels.length]),
    };
    for (const [name, t] of Object.entries(trainables))
      feeds[name] = new ort.Tensor('float32', t.data, t.dims);
    const out = await this.session.run(feeds);
    const grads: Record<string, Float32Array> = {};
    for (const name of Object.keys(trainables)) grads[name] = out[`grad.${name}`].data as Float32Array;
    return { loss: (out.loss.data as Float32Array)[0], logits: out.logits.data as Float32Array, grads };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
