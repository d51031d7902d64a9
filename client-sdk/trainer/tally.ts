// Running metrics of one round on the device: what the update's __metadata__
// and the round report say about local training.

export class RoundTally {
  steps = 0;
  processed = 0;
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
    this.processed += n;
    this.lossSum += loss * n;
    this.correct += correct;
    this.markSeen(indices);
  }

  /**
   * Examples the tail trained on although the answer was lost: they shaped the
   * update, so they count as samples, but there is no loss to average.
   */
  markSeen(indices: ArrayLike<number>): void {
    for (let k = 0; k < indices.length; k++) {
      if (!this.seen[indices[k]]) {
        this.seen[indices[k]] = 1;
        this.distinct++;
      }
    }
  }

  /** Distinct examples trained on, the sample count FedAvg weights the update by. */
  get samples(): number {
    return this.distinct;
  }

  get meanLoss(): number {
    return this.processed > 0 ? this.lossSum / this.processed : 0;
  }

  get accuracy(): number {
    return this.processed > 0 ? this.correct / this.processed : 0;
  }
}
