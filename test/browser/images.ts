// Dataset images as the files a person would pick: 8-bit PNGs of the [0, 1]
// pixels a dataset holds.
import { PNG } from 'pngjs';

export function pngOf(values: Float32Array, width: number, height: number): Buffer {
  const png = new PNG({ width, height });
  values.forEach((v, i) => {
    const byte = Math.round(v * 255);
    png.data.set([byte, byte, byte, 255], 4 * i);
  });
  return PNG.sync.write(png);
}
