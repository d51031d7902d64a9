// The `splitflare` operator CLI: program setup only; each command group
// lives in commands/<group>.ts and exports register(program, io).
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { register as registerDevice } from './commands/device.js';
import { register as registerFederation } from './commands/federation.js';
import { register as registerModel } from './commands/model.js';
import { addGlobalOptions } from './context.js';
import { errorJson, renderError } from './errors.js';
import { type CliIo, processIo } from './io.js';

export function buildProgram(io: CliIo): Command {
  const program = new Command('splitflare')
    .description('operate a splitflare deployment: federations, their devices, and the model registry')
    .version('0.1.0')
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ showGlobalOptions: true })
    // Set before the commands are added, which inherit them: one way out for every command.
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  addGlobalOptions(program, io);
  registerFederation(program, io);
  registerDevice(program, io);
  registerModel(program, io);
  return program;
}

/** Runs the CLI and answers its exit code; failures print as errors.ts renders them, never as a stack trace. */
export async function run(argv: string[], io: CliIo = processIo()): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    // Commander has printed its own usage errors (and help, and the version) already.
    if (err instanceof CommanderError) return err.exitCode;
    const json = argv.includes('--json');
    io.stderr.write(`${json ? JSON.stringify(errorJson(err)) : renderError(err)}\n`);
    if (io.env.SPLITFLARE_DEBUG) io.stderr.write(`${(err as Error)?.stack ?? err}\n`);
    return 1;
  }
}

export async function main(argv: string[] = process.argv): Promise<void> {
  process.exitCode = await run(argv.slice(2));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
