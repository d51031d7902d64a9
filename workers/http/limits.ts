import { bodyLimit } from 'hono/body-limit';
import { HttpProblem } from './problem.js';

/** Rejects bodies over `maxBytes` while streaming, before they are buffered. */
export const limitBody = (maxBytes: number) =>
  bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new HttpProblem('payload-too-large', `Request bodies are limited to ${maxBytes} bytes.`, {
        limit: maxBytes,
      });
    },
  });
