// The decision half of the strategy: when a round ends and what becomes of
// its version.

export type RoundEnd = 'publish' | 'fail' | null;

/**
 * A round ends when every selected client has submitted (publish), or at its
 * deadline: publish with whoever submitted if a quorum did, fail otherwise.
 * null: the round goes on.
 */
export function roundEnd(o: {
  participants: number;
  selected: number;
  quorum: number;
  pastDeadline: boolean;
}): RoundEnd {
  if (o.selected > 0 && o.participants >= o.selected) return 'publish';
  if (!o.pastDeadline) return null;
  return o.participants >= o.quorum ? 'publish' : 'fail';
}

/**
 * Whether a candidate version is held back rather than published: its
 * accuracy on the federation's evaluation set fell more than `margin` (a
 * fraction) below its parent's.
 */
export function holdsBack(candidateAccuracy: number, parentAccuracy: number, margin: number): boolean {
  return candidateAccuracy < parentAccuracy - margin;
}
