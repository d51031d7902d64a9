// Comparing tensors in tests, on every suite's runtime (Node and workerd).

/** ‖got − want‖₂ / ‖want‖₂ (a zero `want` compares against 1e-30, so any difference shows). */
export function relativeL2(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}
