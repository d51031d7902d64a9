// Random translations of NCHW images by up to `maxShift` pixels, filling with
// the normalized value of a black pixel. With 10,000 MNIST digits in all,
// shifting is what keeps a ViT from memorising the training split.

export function randomShift(
  pixels: Float32Array,
  shape: readonly [number, number, number, number],
  maxShift: number,
  fill: number,
  random: () => number,
): Float32Array {
  const [n, c, h, w] = shape;
  const out = new Float32Array(pixels.length).fill(fill);
  for (let i = 0; i < n; i++) {
    const dy = Math.floor(random() * (2 * maxShift + 1)) - maxShift;
    const dx = Math.floor(random() * (2 * maxShift + 1)) - maxShift;
    for (let ch = 0; ch < c; ch++) {
      const base = (i * c + ch) * h * w;
      for (let y = Math.max(0, dy); y < Math.min(h, h + dy); y++) {
        const src = base + (y - dy) * w;
        const dst = base + y * w;
        for (let x = Math.max(0, dx); x < Math.min(w, w + dx); x++) out[dst + x] = pixels[src + x - dx];
      }
    }
  }
  return out;
}
