// A Worker used only by the benchmarks: runs one ONNX graph K times in one
// request with the runtime the edge uses (edge/ort-wasm.ts, the same session
// options). The graph is posted once to /load. Timers inside workerd may not
// advance during pure computation, so the caller times requests from outside
// and differences K = 1 against K = 1 + n to cancel the network.
import type { InferenceSession } from 'onnxruntime-web';
import { memoryReport } from '../edge/memory.js';
import { loadOrt } from '../edge/ort-wasm.js';
import { decodeFrame, readFrameHeader } from '../protocol/frame.js';

let session: InferenceSession | undefined;

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (request.method !== 'POST') return new Response('ready');
    const ort = await loadOrt();
    if (url.pathname === '/load') {
      await session?.release();
      session = await ort.InferenceSession.create(new Uint8Array(await request.arrayBuffer()), {
        executionProviders: ['wasm'],
        graphOptimizationLevel: 'all',
      });
      return Response.json({
        inputs: session.inputNames,
        outputs: session.outputNames,
        memory: memoryReport(),
      });
    }
    if (!session) return new Response('POST the graph to /load first', { status: 409 });
    const repeats = Number(url.searchParams.get('repeats') ?? '1');
    const bytes = new Uint8Array(await request.arrayBuffer());
    readFrameHeader(bytes);
    const { header, data } = decodeFrame(bytes);
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, header.shape) };
    let checksum = 0;
    for (let i = 0; i < repeats; i++) {
      const out = await session.run(feeds);
      checksum += (out[session.outputNames[0]].data as Float32Array)[0];
    }
    return Response.json({ repeats, checksum, memory: memoryReport() });
  },
};
