// Where a local admin key comes from: the environment, or the .dev.vars file
// `wrangler dev` loads the Worker's ADMIN_KEY from, so the tools work against
// a local Worker with no setup.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const DEV_VARS = fileURLToPath(new URL('../.dev.vars', import.meta.url));

/** $SPLITFLARE_ADMIN_KEY, else the ADMIN_KEY in the checkout's .dev.vars. */
export async function localAdminKey(): Promise<string> {
  const fromEnv = process.env.SPLITFLARE_ADMIN_KEY;
  if (fromEnv) return fromEnv;
  const text = await readFile(DEV_VARS, 'utf8');
  const match = /^\s*ADMIN_KEY\s*=\s*"?([^"\n]+)"?\s*$/m.exec(text);
  if (!match) throw new Error(`no ADMIN_KEY in ${DEV_VARS}`);
  return match[1].trim();
}
