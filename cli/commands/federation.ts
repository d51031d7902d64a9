// `splitflare federation …`: create, start, follow and close a federation.
import { type Command, InvalidArgumentError, Option } from 'commander';
import { roundDeadline } from '../../operator/events/view.js';
import { bytes, duration, loss, pct, roundLabel, time } from '../../operator/format.js';
import { ENCODINGS } from '../../protocol/encoding.js';
import {
  DEFAULT_STRATEGY,
  type FederationState,
  type RoundRecord,
  StrategyConfig,
} from '../../protocol/federation.js';
import { SIM_DEFAULTS as D } from '../../scripts/sim/config.js';
import { contextOf } from '../context.js';
import { type ConfigFlags, federationBody, readConfigFile } from '../federation-config.js';
import type { CliIo } from '../io.js';
import { table } from '../table.js';
import { watchFederation } from '../watch/run.js';

/** Any finite number; the federation schema decides what is in range, so there is one rule for each field. */
const num = (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number');
  return n;
};

const STRATEGIES = StrategyConfig.options.map((o) => o.shape.kind.value);

export function register(program: Command, io: CliIo): void {
  const federation = program.command('federation').description('create, start, follow and close federations');

  federation
    .command('create')
    .description('create a federation: the defaults shown, overridden by --config, overridden by the flags')
    .argument('<id>', 'lower-case letters, digits and dashes')
    .option('--model <id>', 'the model to fine-tune (a published model built for training)')
    .option('--config <file>', 'JSON file with a federation config, whole or in part')
    .option('--rounds <n>', `rounds to run (default ${D.rounds})`, num)
    .option('--per-round <n>', `devices selected per round (default ${D.perRound})`, num)
    .option('--quorum <n>', 'submissions a round needs at its deadline (default 80% of --per-round)', num)
    .option('--deadline <seconds>', `round deadline (default ${D.deadlineSeconds})`, num)
    .option('--local-epochs <n>', `local epochs per round (default ${D.localEpochs})`, num)
    .option('--batch <n>', `batch size (default ${D.batch})`, num)
    .addOption(new Option('--uplink <enc>', `activation encoding (default ${D.uplink})`).choices(ENCODINGS))
    .addOption(new Option('--downlink <enc>', `gradient encoding (default ${D.downlink})`).choices(ENCODINGS))
    .option('--budget <bytes>', `bytes one device may move per round (default ${D.budgetBytes})`, num)
    .addOption(
      new Option('--optimizer <kind>', `optimizer of both sides (default ${D.optimizer})`).choices([
        'sgd',
        'adamw',
      ]),
    )
    .option('--lr-head <lr>', `device-side learning rate (default ${D.lrHead})`, num)
    .option('--lr-tail <lr>', `server-side learning rate (default ${D.lrTail})`, num)
    .option('--momentum <m>', `SGD momentum of both sides (default ${D.momentum})`, num)
    .addOption(
      new Option('--lr-schedule <kind>', `learning rate by round (default ${D.lrSchedule})`).choices([
        'constant',
        'cosine',
      ]),
    )
    .addOption(
      new Option(
        '--strategy <kind>',
        `aggregation, with its default parameters (default ${DEFAULT_STRATEGY.kind})`,
      ).choices(STRATEGIES),
    )
    .option('--secure-aggregation', 'mask the device updates so the coordinator sees only their sum')
    .option('--activation-noise <sigma>', 'per-token activation noise, a share of each token’s RMS', num)
    .option('--decorrelation <alpha>', 'weight of the NoPeek distance-correlation penalty', num)
    .option('--evaluator <deviceId>', 'a device allowed to report evaluations of versions')
    .option('--seed <n>', `seeds client selection (default ${D.seed})`, num)
    .action(async (id: string, flags: ConfigFlags & { config?: string }, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const file = flags.config ? await readConfigFile(flags.config) : {};
      const body = federationBody(id, file, flags);
      const state = await ctx.client.create(body.id, body.config);
      ctx.print(state, () => {
        const c = state.config;
        return (
          `created federation ${state.id}: ${c.modelId} cut at ${state.cut}, ${c.rounds} round(s) of ` +
          `${c.clientsPerRound} device(s), quorum ${c.quorum}, ${c.strategy.kind}`
        );
      });
    });

  federation
    .command('list')
    .description('every federation, with where it stands')
    .action(async (_opts, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const federations = await ctx.client.federations();
      ctx.print({ federations }, () =>
        federations.length === 0
          ? 'no federations'
          : table(
              ['federation', 'model', 'status', 'round', 'devices', 'version'],
              federations.map((f) => [
                f.id,
                f.modelId,
                f.status,
                f.currentRound === null
                  ? `not started, ${f.rounds} round(s)`
                  : `${roundLabel(f.currentRound, f.rounds)} ${f.roundStatus}`,
                f.devices,
                f.latestVersion,
              ]),
            ),
      );
    });

  federation
    .command('start')
    .description('open round 0 (enrol devices first: it selects among them)')
    .argument('<id>')
    .action(async (id: string, _opts, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const round = await ctx.client.start(id);
      ctx.print(
        round,
        () => `federation ${id}: round ${round.round} ${round.status}, selected ${round.selected.join(', ')}`,
      );
    });

  federation
    .command('status')
    .description('the state, the current round and every round so far')
    .argument('<id>')
    .action(async (id: string, _opts, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const [state, rounds] = await Promise.all([ctx.client.state(id), ctx.client.history(id)]);
      ctx.print({ state, rounds }, () => statusText(state, rounds, Date.now()));
    });

  federation
    .command('close')
    .description('stop the federation: no more rounds open')
    .argument('<id>')
    .action(async (id: string, _opts, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const state = await ctx.client.close(id);
      ctx.print(state, () => `federation ${state.id}: ${state.status} at version ${state.currentVersion}`);
    });

  federation
    .command('watch')
    .description('follow the live rounds until the federation finishes (Ctrl-C stops watching)')
    .argument('<id>')
    .action(async (id: string, _opts, cmd: Command) => {
      await watchFederation(contextOf(cmd, io), id);
    });
}

/** `federation status` as a person reads it. */
function statusText(state: FederationState, rounds: RoundRecord[], now: number): string {
  const c = state.config;
  const version = `version ${state.currentVersion}${state.pinned ? ' (pinned)' : ''}, latest ${state.latestVersion}`;
  const lines = [
    `federation ${state.id}: ${state.status}, ${c.modelId} cut at ${state.cut}`,
    `${state.devices} device(s) enrolled, ${c.clientsPerRound} per round, quorum ${c.quorum}; ${version}`,
  ];
  if (state.privacy) {
    const budget = state.privacy.epsilonBudget === null ? '' : ` of ${state.privacy.epsilonBudget}`;
    lines.push(`privacy: ε ${state.privacy.epsilon.toFixed(3)}${budget} at δ ${state.privacy.delta}`);
  }
  const r = state.currentRound;
  if (r) {
    const closes = roundDeadline(r, c) - now;
    const when = r.closedAt === null ? `, closes in ${duration(closes)}` : `, closed ${time(r.closedAt)}`;
    lines.push(
      `${roundLabel(r.round, c.rounds)}: ${r.status}, ${r.participants}/${r.selected.length} submitted${when}`,
    );
  } else {
    lines.push(
      state.status === 'running' ? 'no round yet: `federation start` opens round 0' : 'no open round',
    );
  }
  if (rounds.length > 0) lines.push(historyTable(rounds));
  return lines.join('\n');
}

function historyTable(rounds: RoundRecord[]): string {
  return table(
    [
      'round',
      'status',
      'submitted',
      'samples',
      'loss',
      'client acc.',
      'uplink',
      'downlink',
      'version',
      'took',
    ],
    rounds.map((r) => [
      r.round,
      r.status,
      `${r.participants}/${r.selected.length}`,
      r.samples,
      loss(r.meanLoss),
      pct(r.clientAccuracy),
      bytes(r.uplinkBytes),
      bytes(r.downlinkBytes),
      r.publishedVersion ?? '-',
      r.closedAt === null ? '-' : duration(r.closedAt - r.openedAt),
    ]),
  );
}
