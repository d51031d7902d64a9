/** Linear warm-up then cosine decay to `floor`·peak, over `total` steps. */
export function warmupCosine(peak: number, warmup: number, total: number, floor = 0.05) {
  return (step: number): number => {
    if (step < warmup) return (peak * (step + 1)) / warmup;
    const t = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
    return peak * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * t)));
  };
}
