// A Worker used only by the benchmarks: runs the deployed tail K times in one
// request with the same runtime code the API uses. Timers inside workerd may
// not advance during pure computation, so the caller times requests from
// outside and differences K = 1 against K = 1 + n to cancel the network.
import { decodeFrame, readFrameHeader } from '../protocol/frame.js';
import { findModel } from '../workers/registry.js';
import { loadOrt } from '../workers/runtime/ort-wasm.js';
import { sessionFor } from '../workers/runtime/tail-sessions.js';

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const model = findModel(url.searchParams.get('model') ?? 'vit-mnist');
    if (!model) return new Response('unknown model', { status: 404 });
    if (request.method !== 'POST') return new Response('ready');
    const repeats = Number(url.searchParams.get('repeats') ?? '1');
    const bytes = new Uint8Array(await request.arrayBuffer());
    readFrameHeader(bytes);
    const { header, data } = decodeFrame(bytes);
    const ort = await loadOrt();
    const session = await sessionFor(model.manifest.artifacts.tail.sha256, model.tail);
    const feeds = { [model.manifest.cut.tensor.name]: new ort.Tensor('float32', data, header.shape) };
    let checksum = 0;
    for (let i = 0; i < repeats; i++) {
      const out = await session.run(feeds);
      checksum += (out[model.manifest.output.name].data as Float32Array)[0];
    }
    return Response.json({ repeats, checksum });
  },
};
