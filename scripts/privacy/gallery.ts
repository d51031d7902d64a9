// Reconstructions next to their originals, as one PNG: a row per setting
// (the originals first), a column per image, each pixel scaled up.
import { writeFile } from 'node:fs/promises';
import { PNG } from 'pngjs';

export interface GalleryRow {
  label: string;
  /** n × width × height grey [0, 1] pixels. */
  images: Float32Array;
}

const SCALE = 3;
const GAP = 2;

export async function writeGallery(
  file: string,
  rows: GalleryRow[],
  width: number,
  height: number,
  columns: number,
): Promise<void> {
  const cellW = width * SCALE + GAP;
  const cellH = height * SCALE + GAP;
  const png = new PNG({ width: columns * cellW + GAP, height: rows.length * cellH + GAP });
  png.data.fill(255);
  rows.forEach((row, r) => {
    for (let c = 0; c < columns; c++) {
      const image = row.images.subarray(c * width * height, (c + 1) * width * height);
      for (let y = 0; y < height * SCALE; y++) {
        for (let x = 0; x < width * SCALE; x++) {
          const v = image[Math.floor(y / SCALE) * width + Math.floor(x / SCALE)];
          const byte = Math.round(Math.min(1, Math.max(0, v)) * 255);
          const at = ((GAP + r * cellH + y) * png.width + GAP + c * cellW + x) * 4;
          png.data[at] = byte;
          png.data[at + 1] = byte;
          png.data[at + 2] = byte;
          png.data[at + 3] = 255;
        }
      }
    }
  });
  await writeFile(file, PNG.sync.write(png));
}
