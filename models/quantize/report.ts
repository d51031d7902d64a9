// The quantization report as text, for the CLI.
import type { QuantizeReport } from './quantize-weights.js';

const bytes = (n: number) => n.toLocaleString('en-US');
const percent = (after: number, before: number) =>
  before > 0 ? `${((100 * after) / before).toFixed(1)}%` : 'n/a';

export function formatReport(r: QuantizeReport): string {
  const lines: string[] = [];
  const fused = r.quantized.reduce((a, w) => a + w.fused, 0);
  const unfused = r.quantized.reduce((a, w) => a + w.unfused, 0);
  lines.push(
    `quantized ${r.quantized.length} weights to int${r.bits} (block ${r.blockSize} along K, symmetric, float32 scales): ` +
      `${bytes(r.weightBytesBefore)} -> ${bytes(r.weightBytesAfter)} bytes (${percent(r.weightBytesAfter, r.weightBytesBefore)})`,
  );
  lines.push(
    `model: ${bytes(r.modelBytesBefore)} -> ${bytes(r.modelBytesAfter)} bytes (${percent(r.modelBytesAfter, r.modelBytesBefore)})`,
  );
  const converted = Object.entries(r.opset.converted).map(([op, n]) => `${op} x${n}`);
  lines.push(
    r.opset.from === r.opset.to
      ? `opset ${r.opset.to}`
      : `opset ${r.opset.from} -> ${r.opset.to}${converted.length ? ` (rewrote ${converted.join(', ')})` : ''}`,
  );
  lines.push(
    `products onnxruntime fuses into MatMulNBits: ${fused}; other reads (dequantized to fp32 each run): ${unfused}`,
  );
  for (const w of r.quantized) {
    const layout =
      w.kind === 'conv' ? 'conv, per output channel' : `matmul${w.transposed ? ', codes hold W^T' : ''}`;
    lines.push(
      `  ${w.name} [${w.dims.join(', ')}] ${layout}: fused ${w.fused}, unfused ${w.unfused}, ` +
        `${bytes(w.bytesBefore)} -> ${bytes(w.bytesAfter)} bytes`,
    );
  }
  if (r.skipped.length > 0) {
    lines.push(`kept in fp32: ${r.skipped.length}`);
    for (const s of r.skipped) lines.push(`  ${s.name} [${s.dims.join(', ')}]: ${s.reason}`);
  }
  if (r.quantized.some((w) => w.kind === 'conv')) {
    lines.push(
      'note: onnxruntime does not fuse DequantizeLinear into Conv; Conv weights expand to fp32 on every run',
    );
  }
  return lines.join('\n');
}
