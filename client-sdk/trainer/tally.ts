// Running metrics of one round on the device: what the update's metadata
// (protocol/update.ts) and the round report say about local training.

export class RoundTally {
  /** Steps the server answered. */
  steps = 0;
  /**
   * Labels carried by every step the session applied, answered or not, over
   * all epochs: the update's sampleCount, which is what the session observed.
   */
  processed = 0;
  /** The head's forward and backward, milliseconds summed over the round's steps. */
  headMs = 0;
  /** Step exchanges' wall time (the link's and the edge's), waits for the planned rate left out. */
  exchangeMs = 0;
  /** The quickest step exchange per sample (ms): the link's and the edge's time with the least waiting behind others. */
  fastestExchangeMsPerSample = Number.POSITIVE_INFINITY;
  /** Examples of the answered steps: the denominator of meanLoss and accuracy. */
  private answered = 0;
  private lossSum = 0;
  private correct = 0;
  private readonly seen: Uint8Array;
  private distinct = 0;

  constructor(datasetSize: number) {
    this.seen = new Uint8Array(datasetSize);
  }

  /** A step the server answered: its mean loss over `indices` and how many it got right. */
  addStep(indices: ArrayLike<number>, loss: number, correct: number): void {
    const n = indices.length;
    this.steps++;
    this.answered += n;
    this.lossSum += loss * n;
    this.correct += correct;
    this.addApplied(indices);
  }

  /**
   * A step the session applied although its answer was lost: the tail
   * trained on these examples and the session counted their labels, so they
   * count as samples, but there is no loss to average.
   */
  addLost(indices: ArrayLike<number>): void {
    this.addApplied(indices);
  }

  private addApplied(indices: ArrayLike<number>): void {
    this.processed += indices.length;
    for (let k = 0; k < indices.length; k++) {
      if (!this.seen[indices[k]]) {
        this.seen[indices[k]] = 1;
        this.distinct++;
      }
    }
  }

  /** Distinct examples trained on (an example of every epoch counts once). */
  get samples(): number {
    return this.distinct;
  }

  get meanLoss(): number {
    return this.answered > 0 ? this.lossSum / this.answered : 0;
  }

  get accuracy(): number {
    return this.answered > 0 ? this.correct / this.answered : 0;
  }
}
