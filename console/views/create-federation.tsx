// Creating a federation. The form is checked with the API's own schema
// (protocol/api.ts CreateFederationBody) before anything is sent, so what the
// console refuses is exactly what the Worker would, and says where.
import { useEffect, useState } from 'preact/hooks';
import type { AdminClient, ModelSummary } from '../../operator/client.js';
import { CreateFederationBody } from '../../protocol/api.js';
import { ENCODINGS } from '../../protocol/encoding.js';
import { ErrorNote } from '../errors.js';

interface Fields {
  id: string;
  modelId: string;
  rounds: string;
  clientsPerRound: string;
  quorum: string;
  roundDeadlineSeconds: string;
  localEpochs: string;
  batchSize: string;
  uplink: string;
  downlink: string;
  budgetMB: string;
  lr: string;
}

const INITIAL: Fields = {
  id: '',
  modelId: '',
  rounds: '10',
  clientsPerRound: '2',
  quorum: '2',
  roundDeadlineSeconds: '600',
  localEpochs: '1',
  batchSize: '16',
  uplink: 'int8',
  downlink: 'int8',
  budgetMB: '100',
  lr: '0.002',
};

/** The request body the fields stand for; numbers stay NaN when unreadable, which the schema refuses. */
function bodyOf(f: Fields) {
  const n = (s: string) => (s.trim() === '' ? Number.NaN : Number(s));
  const optimizer = { kind: 'adamw' as const, lr: n(f.lr) };
  return {
    id: f.id.trim(),
    config: {
      modelId: f.modelId,
      rounds: n(f.rounds),
      clientsPerRound: n(f.clientsPerRound),
      quorum: n(f.quorum),
      roundDeadlineSeconds: n(f.roundDeadlineSeconds),
      localEpochs: n(f.localEpochs),
      batchSize: n(f.batchSize),
      uplink: f.uplink,
      downlink: f.downlink,
      budgetBytesPerRound: Math.round(n(f.budgetMB) * 1e6),
      headOptimizer: optimizer,
      tailOptimizer: optimizer,
    },
  };
}

/** Which field a schema issue belongs to. */
function fieldOf(path: PropertyKey[]): keyof Fields | 'form' {
  const [top, key] = path;
  if (top === 'id') return 'id';
  if (key === 'budgetBytesPerRound') return 'budgetMB';
  if (key === 'headOptimizer' || key === 'tailOptimizer') return 'lr';
  return typeof key === 'string' && key in INITIAL ? (key as keyof Fields) : 'form';
}

export function CreateFederation({
  client,
  onCreated,
}: {
  client: AdminClient;
  onCreated: (id: string) => void;
}) {
  const [fields, setFields] = useState(INITIAL);
  const [models, setModels] = useState<ModelSummary[]>([]);
  const [issues, setIssues] = useState<Partial<Record<keyof Fields | 'form', string>>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    client.models().then(
      (all) => {
        const trainable = all.filter((m) => m.training);
        setModels(trainable);
        setFields((f) => (f.modelId || trainable.length === 0 ? f : { ...f, modelId: trainable[0].id }));
      },
      (err) => setError(err),
    );
  }, [client]);

  const set = (name: keyof Fields) => (e: Event) =>
    setFields({ ...fields, [name]: (e.currentTarget as HTMLInputElement).value });

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const parsed = CreateFederationBody.safeParse(bodyOf(fields));
    if (!parsed.success) {
      const found: Partial<Record<keyof Fields | 'form', string>> = {};
      for (const issue of parsed.error.issues) found[fieldOf(issue.path)] ??= issue.message;
      setIssues(found);
      return;
    }
    setIssues({});
    setBusy(true);
    try {
      const created = await client.create(parsed.data.id, parsed.data.config);
      onCreated(created.id);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const input = (name: keyof Fields, label: string, props: Record<string, unknown> = {}) => (
    <div class="field">
      <label for={`f-${name}`}>{label}</label>
      <input
        id={`f-${name}`}
        name={name}
        value={fields[name]}
        onInput={set(name)}
        aria-invalid={issues[name] ? 'true' : undefined}
        aria-describedby={issues[name] ? `f-${name}-issue` : undefined}
        {...props}
      />
      {issues[name] ? (
        <small id={`f-${name}-issue`} class="issue">
          {issues[name]}
        </small>
      ) : null}
    </div>
  );
  const select = (name: keyof Fields, label: string, options: readonly string[]) => (
    <div class="field">
      <label for={`f-${name}`}>{label}</label>
      <select id={`f-${name}`} name={name} value={fields[name]} onChange={set(name)}>
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
      {issues[name] ? <small class="issue">{issues[name]}</small> : null}
    </div>
  );

  return (
    <section class="card">
      <h2>Create a federation</h2>
      <form onSubmit={submit} noValidate>
        <div class="grid">
          {input('id', 'Federation id', { placeholder: 'field-trial-1', autocomplete: 'off' })}
          {select(
            'modelId',
            'Model',
            models.map((m) => m.id),
          )}
          {input('rounds', 'Rounds', { inputmode: 'numeric' })}
          {input('clientsPerRound', 'Devices per round', { inputmode: 'numeric' })}
          {input('quorum', 'Quorum (updates a round needs at its deadline)', { inputmode: 'numeric' })}
          {input('roundDeadlineSeconds', 'Round deadline (s)', { inputmode: 'numeric' })}
          {input('localEpochs', 'Local epochs', { inputmode: 'numeric' })}
          {input('batchSize', 'Batch size', { inputmode: 'numeric' })}
          {select('uplink', 'Uplink encoding', ENCODINGS)}
          {select('downlink', 'Downlink encoding', ENCODINGS)}
          {input('budgetMB', 'Byte budget per device per round (MB)', { inputmode: 'decimal' })}
          {input('lr', 'Learning rate (AdamW, both sides)', { inputmode: 'decimal' })}
        </div>
        {issues.form ? <p class="issue">{issues.form}</p> : null}
        <button type="submit" disabled={busy}>
          {busy ? 'Creating…' : 'Create federation'}
        </button>
      </form>
      <ErrorNote error={error} />
    </section>
  );
}
