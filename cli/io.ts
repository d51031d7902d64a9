// What a command may touch of the outside world, passed in so that tests run
// the real program against captured streams and a fake fetch.

/** The part of a stream the CLI writes to; `isTTY` decides between bars and plain lines. */
export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface CliIo {
  stdout: Output;
  stderr: Output;
  env: Readonly<Record<string, string | undefined>>;
  fetch?: typeof fetch;
  WebSocket?: typeof WebSocket;
}

export const processIo = (): CliIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env });
