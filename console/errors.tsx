// How the console shows a failed call: the API's problem (type, detail) and
// the request id to look for in the Worker's logs.
import { ApiError, UnreachableError } from '../operator/client.js';
import { slugOf } from '../protocol/problem.js';

export function describeError(err: unknown): { title: string; detail?: string; requestId?: string } {
  if (err instanceof ApiError) {
    const p = err.problem;
    return {
      title: `${p.status} ${slugOf(p.type) ?? p.type}`,
      detail: p.detail ?? p.title,
      requestId: p.requestId,
    };
  }
  if (err instanceof UnreachableError) return { title: 'The Worker cannot be reached', detail: err.message };
  return { title: 'Something went wrong', detail: err instanceof Error ? err.message : String(err) };
}

export function ErrorNote({ error }: { error: unknown }) {
  if (error === null || error === undefined) return null;
  const e = describeError(error);
  return (
    <div class="error" role="alert">
      <strong>{e.title}</strong>
      {e.detail ? <span>: {e.detail}</span> : null}
      {e.requestId ? <small> (request {e.requestId})</small> : null}
    </div>
  );
}
