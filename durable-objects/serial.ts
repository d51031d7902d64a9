// A Durable Object interleaves requests at every await (the ORT run, a
// digest), so two deliveries of the same step could both see it as new and
// train twice. Running the session's operations one after another closes that
// window without blocking the object the way blockConcurrencyWhile would.
export class Serial {
  private last: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.last.then(fn);
    this.last = result.catch(() => undefined);
    return result;
  }
}
