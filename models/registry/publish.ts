// Publishing a built model directory (manifest.json and its artifacts) to a
// splitflare Worker's registry through the admin API: every artifact the edge
// needs goes up by sha256 (skipped when already there, in parts when large),
// then the manifest, which the Worker accepts only once all of them are in.
// No Worker rebuild or redeploy: the next request sees the model.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type Artifact, edgeArtifacts, Manifest } from '../../protocol/manifest.js';

/** Uploads larger than this go up in parts (a request body is capped at 100 MB). */
export const PART_BYTES = 64 * 2 ** 20;

export interface PublishOptions {
  /** The Worker's base URL, e.g. http://127.0.0.1:8787. */
  baseUrl: string;
  adminKey: string;
  /** Called with bytes sent so far and the total, as uploads progress. */
  onProgress?: (sent: number, total: number) => void;
  log?: (line: string) => void;
}

export interface PublishResult {
  modelId: string;
  uploaded: number;
  skipped: number;
  bytesSent: number;
}

async function check(res: Response, what: string): Promise<Response> {
  if (res.ok) return res;
  const text = await res.text().catch(() => '');
  throw new Error(`${what}: HTTP ${res.status} ${text.slice(0, 500)}`);
}

async function readPart(path: string, start: number, end: number): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Buffer[] = [];
  for await (const chunk of createReadStream(path, { start, end: end - 1 })) chunks.push(chunk as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

export async function publishModel(dir: string, o: PublishOptions): Promise<PublishResult> {
  const manifest = Manifest.parse(JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')));
  const base = o.baseUrl.replace(/\/+$/, '');
  const auth = { authorization: `Bearer ${o.adminKey}` };
  const artifacts = edgeArtifacts(manifest);
  const total = artifacts.reduce((a, x) => a + x.bytes, 0);
  let sent = 0;
  let uploaded = 0;
  for (const a of artifacts) {
    const path = join(dir, a.file);
    const size = (await stat(path)).size;
    if (size !== a.bytes) throw new Error(`${a.file}: ${size} bytes on disk, the manifest says ${a.bytes}`);
    const head = await fetch(`${base}/v1/artifacts/${a.sha256}`, { method: 'HEAD', headers: auth });
    if (head.status === 200 && Number(head.headers.get('content-length')) === a.bytes) {
      sent += a.bytes;
      o.onProgress?.(sent, total);
      continue;
    }
    if (head.status !== 404 && head.status !== 200) await check(head, `HEAD ${a.file}`);
    await upload(base, auth, path, a, (n) => {
      sent += n;
      o.onProgress?.(sent, total);
    });
    uploaded++;
  }
  await check(
    await fetch(`${base}/v1/models/${manifest.modelId}`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(manifest),
    }),
    `publishing the manifest of ${manifest.modelId}`,
  );
  o.log?.(
    `published ${manifest.modelId}: ${uploaded} artifact(s) uploaded, ${artifacts.length - uploaded} already there`,
  );
  return { modelId: manifest.modelId, uploaded, skipped: artifacts.length - uploaded, bytesSent: sent };
}

async function upload(
  base: string,
  auth: Record<string, string>,
  path: string,
  a: Artifact,
  progress: (bytes: number) => void,
): Promise<void> {
  const url = `${base}/v1/artifacts/${a.sha256}`;
  if (a.bytes <= PART_BYTES) {
    const body = await readPart(path, 0, a.bytes);
    await check(
      await fetch(url, {
        method: 'PUT',
        headers: { ...auth, 'content-type': 'application/octet-stream' },
        body,
      }),
      `uploading ${a.file}`,
    );
    progress(a.bytes);
    return;
  }
  const started = await check(
    await fetch(`${url}/uploads`, { method: 'POST', headers: auth }),
    `starting ${a.file}`,
  );
  const { uploadId } = (await started.json()) as { uploadId: string };
  const parts: Array<{ part: number; etag: string }> = [];
  for (let start = 0, part = 1; start < a.bytes; start += PART_BYTES, part++) {
    const end = Math.min(a.bytes, start + PART_BYTES);
    const body = await readPart(path, start, end);
    const res = await check(
      await fetch(`${url}/uploads/${encodeURIComponent(uploadId)}/${part}`, {
        method: 'PUT',
        headers: { ...auth, 'content-type': 'application/octet-stream' },
        body,
      }),
      `uploading part ${part} of ${a.file}`,
    );
    parts.push((await res.json()) as { part: number; etag: string });
    progress(end - start);
  }
  await check(
    await fetch(`${url}/uploads/${encodeURIComponent(uploadId)}/complete`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ parts }),
    }),
    `completing ${a.file}`,
  );
}
