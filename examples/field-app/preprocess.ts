// From a photo or file to the tensor the model takes, as its manifest says
// (manifest.preprocess): fitted into width × height, grey or RGB, [0, 1],
// optionally inverted, then normalized with mean and std.

export interface Preprocess {
  channels: number;
  height: number;
  width: number;
  mean: readonly number[];
  std: readonly number[];
}

interface ManifestLike {
  input: { shape: readonly (number | string)[] };
  preprocess?: Preprocess;
}

/** The manifest's preprocessing, or plain [0, 1] pixels at the input's size when it has none. */
export function preprocessOf(manifest: ManifestLike): Preprocess {
  if (manifest.preprocess) return manifest.preprocess;
  const [, c, hgt, w] = manifest.input.shape.map(Number);
  return { channels: c, height: hgt, width: w, mean: Array(c).fill(0), std: Array(c).fill(1) };
}

export interface ModelInput {
  /** channels × height × width, normalized. */
  pixels: Float32Array;
  /** The same image before normalization, for showing what the model sees. */
  visible: ImageData;
}

/**
 * `invert` is for photos of dark strokes on light paper: the MNIST-style
 * models were trained on light subjects on black.
 */
export function toModelInput(image: ImageBitmap, pre: Preprocess, invert: boolean): ModelInput {
  const { width, height, channels } = pre;
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('this browser cannot draw images (no 2D canvas)');
  // Fit the whole image and pad with what will become the model's background (black).
  ctx.fillStyle = invert ? '#fff' : '#000';
  ctx.fillRect(0, 0, width, height);
  const scale = Math.min(width / image.width, height / image.height);
  const w = image.width * scale;
  const hgt = image.height * scale;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(image, (width - w) / 2, (height - hgt) / 2, w, hgt);

  const rgba = ctx.getImageData(0, 0, width, height).data;
  const plane = width * height;
  const pixels = new Float32Array(channels * plane);
  const visible = new ImageData(width, height);
  for (let i = 0; i < plane; i++) {
    const [r, g, b] = [rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]].map((v) => v / 255);
    // A grey pixel stays exactly itself, so a dataset image reaches the model unchanged.
    const grey = r === g && g === b ? r : 0.299 * r + 0.587 * g + 0.114 * b;
    const values = channels === 1 ? [grey] : [r, g, b];
    for (let c = 0; c < channels; c++) {
      const v = invert ? 1 - values[c] : values[c];
      pixels[c * plane + i] = (v - pre.mean[c]) / pre.std[c];
      values[c] = v;
    }
    const shown = channels === 1 ? [values[0], values[0], values[0]] : values;
    visible.data.set([...shown.map((v) => Math.round(v * 255)), 255], 4 * i);
  }
  return { pixels, visible };
}

/** Paints what the model sees; CSS scales the canvas up without smoothing. */
export function paint(canvas: HTMLCanvasElement, image: ImageData): void {
  canvas.width = image.width;
  canvas.height = image.height;
  canvas.getContext('2d')?.putImageData(image, 0, 0);
}
