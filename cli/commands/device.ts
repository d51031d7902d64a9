// `splitflare device …`: who may train in a federation.
import type { Command } from 'commander';
import { profileSummary, time } from '../../operator/format.js';
import { contextOf } from '../context.js';
import type { CliIo } from '../io.js';
import { table } from '../table.js';

export function register(program: Command, io: CliIo): void {
  const device = program.command('device').description('enrol, list and revoke a federation’s devices');

  device
    .command('enroll')
    .description(
      'enrol a device (again: a new generation, voiding its earlier tokens) and print its token once',
    )
    .argument('<fid>', 'the federation')
    .argument('<deviceId>')
    .action(async (fid: string, deviceId: string, _opts, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const e = await ctx.client.enroll(fid, deviceId);
      ctx.print(e, () =>
        [
          `enrolled ${e.deviceId} in ${e.federationId} (generation ${e.generation})`,
          `token, shown this once (expires ${time(e.expiresAt)}):`,
          e.token,
        ].join('\n'),
      );
    });

  device
    .command('revoke')
    .description('refuse every token of a device; it is no longer selected')
    .argument('<fid>', 'the federation')
    .argument('<deviceId>')
    .action(async (fid: string, deviceId: string, _opts, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const d = await ctx.client.revoke(fid, deviceId);
      ctx.print(d, () => `revoked ${d.deviceId} in ${fid} at ${time(d.revokedAt)}`);
    });

  device
    .command('list')
    .description('the enrolled devices')
    .argument('<fid>', 'the federation')
    .action(async (fid: string, _opts, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const devices = await ctx.client.devices(fid);
      ctx.print({ devices }, () =>
        devices.length === 0
          ? `no devices enrolled in ${fid}`
          : table(
              ['device', 'enrolled', 'generation', 'revoked', 'last contact', 'profile'],
              devices.map((d) => [
                d.deviceId,
                time(d.enrolledAt),
                d.generation,
                time(d.revokedAt),
                time(d.lastSeenAt),
                profileSummary(d.profile),
              ]),
            ),
      );
    });
}
