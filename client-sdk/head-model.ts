// The loaded head: its session plus the input and output names it is run with.
import type { Manifest } from '../protocol/manifest.js';
import { ManifestError } from './errors.js';
import type { FloatTensor, HeadSession } from './runtime/types.js';

export interface HeadModel {
  session: HeadSession;
  inputName: string;
  outputName: string;
  /** Fed on every run beside the pixels: a published version's head trainables. */
  constants: Readonly<Record<string, FloatTensor>>;
}

/**
 * Binds the manifest's tensor names to the session. A head with a single input
 * or output is accepted under another name (exporters rename freely); with
 * several, the manifest's name must be there.
 */
export function bindHead(
  session: HeadSession,
  manifest: Manifest,
  constants: Readonly<Record<string, FloatTensor>> = {},
): HeadModel {
  const inputs = session.inputNames.filter((n) => !(n in constants));
  return {
    session,
    inputName: pick(inputs, manifest.input.name, 'input'),
    outputName: pick(session.outputNames, manifest.cut.tensor.name, 'output'),
    constants,
  };
}

function pick(names: readonly string[], wanted: string, what: string): string {
  if (names.includes(wanted)) return wanted;
  if (names.length === 1) return names[0];
  throw new ManifestError(`the head has no ${what} named ${wanted} (it has ${names.join(', ')})`);
}
