// The options every command takes (--url, --admin-key, --json) and what a
// command works with once they are resolved: a client and a way to print.
import { type Command, InvalidArgumentError, Option } from 'commander';
import { localAdminKey } from '../operator/admin-key.js';
import { type AdminClient, adminClient } from '../operator/client.js';
import type { CliIo } from './io.js';

export const DEFAULT_URL = 'http://127.0.0.1:8787';

interface GlobalOptions {
  url: string;
  adminKey?: string;
  json?: boolean;
}

export interface Context {
  io: CliIo;
  json: boolean;
  url: string;
  client: AdminClient;
  /** The admin key, resolved on first use (public commands never read .dev.vars). */
  adminKey(): Promise<string>;
  /** Prints a result: `value` as one JSON line with --json, else the text `human()` makes. */
  print(value: unknown, human: () => string): void;
}

function baseUrl(value: string): string {
  const url = URL.parse(value);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new InvalidArgumentError('expected an http:// or https:// URL');
  }
  return value;
}

export function addGlobalOptions(program: Command, io: CliIo): Command {
  return program
    .addOption(
      new Option('--url <base>', 'the Worker')
        .argParser(baseUrl)
        .default(io.env.SPLITFLARE_URL ?? DEFAULT_URL, `$SPLITFLARE_URL, else ${DEFAULT_URL}`),
    )
    .addOption(
      new Option(
        '--admin-key <key>',
        'admin key (default: $SPLITFLARE_ADMIN_KEY, else ADMIN_KEY in the checkout’s .dev.vars)',
      ),
    )
    .option('--json', 'machine-readable output: one JSON document per result or event');
}

export function contextOf(command: Command, io: CliIo): Context {
  const opts = command.optsWithGlobals<GlobalOptions>();
  const resolveKey = async () => {
    if (opts.adminKey) return opts.adminKey;
    if (io.env.SPLITFLARE_ADMIN_KEY) return io.env.SPLITFLARE_ADMIN_KEY;
    return localAdminKey().catch(() => {
      throw new Error('no admin key: pass --admin-key or set SPLITFLARE_ADMIN_KEY');
    });
  };
  let key: Promise<string> | undefined;
  const adminKey = () => {
    key ??= resolveKey();
    return key;
  };
  const json = opts.json === true;
  return {
    io,
    json,
    url: opts.url,
    adminKey,
    client: adminClient(opts.url, adminKey, { fetch: io.fetch, WebSocket: io.WebSocket }),
    print: (value, human) => io.stdout.write(`${json ? JSON.stringify(value) : human()}\n`),
  };
}
