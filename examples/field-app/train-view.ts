// Contribute: label images on this device and take part in a federated
// round with them. The trainer runs the head here and steps against the
// Worker; the images never leave the page, only activations and the head's
// update do. Pause and the link's state go through gated-fetch.ts.
import {
  createTrainer,
  type RoundReport,
  type SkipReason,
  TimeoutError,
  type Trainer,
  type TrainerEvents,
  TransportError,
} from '@splitflare/client';
import { describeError, details, formatBytes, formatPercent, h, replace } from './dom.js';
import { type GatedFetch, gatedFetch, type LinkState } from './gated-fetch.js';
import { preprocessOf, toModelInput } from './preprocess.js';
import { privacyNote } from './privacy-note.js';
import {
  BASE_URL,
  type Manifest,
  type ModelSummary,
  manifestOf,
  onWarning,
  privacyWarning,
  runtimeOptions,
  warningSink,
} from './sdk.js';

const STORE = { federation: 'splitflare.federation', token: 'splitflare.token', model: 'splitflare.model' };

const SKIPPED: Record<SkipReason, string> = {
  'not-selected': 'This device was not picked for the current round. Try again when the next one opens.',
  'no-open-round': 'No round is open right now. Try again later.',
  finished: 'The federation has finished: there is nothing left to train.',
  'round-closed': 'The round closed before this device’s update arrived.',
  'nothing-trained': 'Not one step got through before the round’s byte budget or deadline.',
  'secagg-excluded': 'The round went on without this device (it was too slow for secure aggregation).',
};

interface Sample {
  name: string;
  image: ImageBitmap;
  url: string;
  /** Class index, or null while unlabelled (unlabelled images are left out). */
  label: number | null;
}

type ViewState = 'idle' | 'running' | 'done' | 'skipped' | 'failed';

export function trainView(models: ModelSummary[]): HTMLElement {
  const trainable = models.filter((m) => m.training);
  const federation = h('input', {
    id: 'train-federation',
    name: 'federation',
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
    autocapitalize: 'none',
  });
  federation.value = localStorage.getItem(STORE.federation) ?? '';
  const token = h('input', {
    id: 'train-token',
    type: 'password',
    required: true,
    autocomplete: 'off',
    'aria-describedby': 'train-token-hint',
  });
  token.value = sessionStorage.getItem(STORE.token) ?? '';
  const modelSelect = h(
    'select',
    { id: 'train-model' },
    ...trainable.map((m) => h('option', { value: m.id }, m.id)),
  );
  const stored = localStorage.getItem(STORE.model);
  modelSelect.value = trainable.some((m) => m.id === stored) ? (stored as string) : (trainable[0]?.id ?? '');
  const invert = h('input', { type: 'checkbox', id: 'train-invert' });
  const addInput = h('input', { type: 'file', accept: 'image/*', multiple: true, class: 'visually-hidden' });
  const count = h('p', { class: 'hint', id: 'train-count' });
  const list = h('ul', { class: 'samples', 'aria-labelledby': 'train-images-title' });
  const warning = privacyNote();

  const contribute = h('button', { type: 'submit' }, 'Contribute a round');
  const pause = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Pause');
  const cancel = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Cancel');
  const progress = h('progress', { id: 'train-progress', max: 1, value: 0 });
  const progressText = h('p', { class: 'hint', id: 'train-progress-text' }, 'Not started.');
  const link = h('p', { class: 'link', id: 'train-link' }, 'Link: idle.');
  const logList = h('ol', {});
  const log = h(
    'div',
    { class: 'log', role: 'log', 'aria-label': 'Round log', tabindex: '0', hidden: true },
    logList,
  );
  const report = h('div', { class: 'report' });

  let samples: Sample[] = [];
  let manifest: Manifest | undefined;
  let running: { gate: GatedFetch; abort: AbortController; reason?: string } | undefined;

  const model = () => trainable.find((m) => m.id === modelSelect.value);
  const labels = () =>
    manifest?.labels ?? Array.from({ length: Number(manifest?.output.shape.at(-1) ?? 0) }, (_, i) => `${i}`);

  const say = (text: string, kind: 'info' | 'error' = 'info') => {
    log.hidden = false;
    logList.append(h('li', { class: kind }, `${new Date().toLocaleTimeString()} ${text}`));
    log.scrollTop = log.scrollHeight;
  };

  const setState = (state: ViewState) => {
    view.dataset.state = state;
    const busy = state === 'running';
    contribute.disabled = busy;
    pause.disabled = !busy;
    cancel.disabled = !busy;
    for (const input of [federation, token, modelSelect, invert, addInput]) input.disabled = busy;
    if (!busy) pause.textContent = 'Pause';
  };

  const updateCount = () => {
    const labelled = samples.filter((s) => s.label !== null).length;
    count.textContent =
      samples.length === 0
        ? 'No images yet. Add a few and give each its label.'
        : `${samples.length} image${samples.length === 1 ? '' : 's'}, ${labelled} labelled` +
          (labelled < samples.length ? ' (unlabelled images are left out).' : '.');
  };

  const renderSamples = () => {
    const names = labels();
    replace(
      list,
      ...samples.map((s, i) => {
        const n = i + 1;
        const id = `train-label-${n}`;
        const select = h(
          'select',
          { id },
          h('option', { value: '' }, 'Choose a label'),
          ...names.map((name, k) => h('option', { value: k }, name)),
        );
        select.value = s.label === null || s.label >= names.length ? '' : String(s.label);
        select.addEventListener('change', () => {
          s.label = select.value === '' ? null : Number(select.value);
          updateCount();
        });
        const remove = h('button', { type: 'button', class: 'secondary small' }, 'Remove');
        remove.setAttribute('aria-label', `Remove image ${n} (${s.name})`);
        remove.addEventListener('click', () => {
          URL.revokeObjectURL(s.url);
          samples = samples.filter((x) => x !== s);
          renderSamples();
          // Keep the keyboard where it was: on the next image's label, or on "Add images".
          (list.querySelectorAll('select')[i] ?? addInput).focus();
        });
        return h(
          'li',
          {},
          h('img', { src: s.url, alt: '', width: 56, height: 56 }),
          h('label', { for: id }, `Label for image ${n} (${s.name})`),
          select,
          remove,
        );
      }),
    );
    updateCount();
  };

  const loadModel = async () => {
    const m = model();
    manifest = undefined;
    if (!m) return;
    try {
      const loaded = await manifestOf(m);
      if (model() !== m) return;
      manifest = loaded;
      warning.show(privacyWarning(m.id));
      renderSamples();
    } catch (err) {
      say(`Could not load ${m.id}: ${describeError(err)}`, 'error');
    }
  };

  const showLink = (s: LinkState, before: LinkState | undefined) => {
    const now = s.paused
      ? 'paused: requests wait until you resume'
      : !s.online
        ? 'offline: waiting for the network'
        : s.failingNow > 0
          ? `link dropped, retrying (${s.failingNow} failed in a row)`
          : 'connected';
    link.textContent = `Link: ${now}. ${s.sent} requests, ${s.failed} failed.`;
    // For tests and for anyone reading the DOM: the raw counts behind the sentence.
    link.dataset.failed = String(s.failed);
    link.dataset.waiting = String(s.waiting);
    link.dataset.paused = String(s.paused);
    link.dataset.online = String(s.online);
    if (!before) return;
    if (s.online !== before.online)
      say(s.online ? 'Back online.' : 'This device is offline; requests wait for the network.');
    if (s.failingNow > 0 && before.failingNow === 0) say('Link dropped; retrying with backoff.', 'error');
    if (s.failingNow === 0 && before.failingNow > 0)
      say(`Link back after ${before.failingNow} failed attempt(s); the round goes on.`);
  };

  const showReport = (r: RoundReport) => {
    replace(
      report,
      h('h3', { id: 'train-report-title' }, `Round ${r.round} report`),
      details([
        ['Steps', String(r.steps)],
        ['Images', `${r.samples} (${r.samplesProcessed} passes)`],
        ['Mean loss', r.meanLoss.toFixed(3)],
        ['Training accuracy', formatPercent(r.accuracy)],
        ['Sent (activations)', formatBytes(r.uplinkBytes)],
        ['Received (gradients)', formatBytes(r.downlinkBytes)],
        ['Update sent', formatBytes(r.updateBytes)],
        ['Time', `${r.seconds.toFixed(1)} s`],
        ['Devices in the round so far', String(r.participants)],
        ...(r.stoppedEarly ? [['Stopped early', r.stoppedEarly] as [string, string]] : []),
      ]),
    );
  };

  const run = async () => {
    const m = model();
    const labelled = samples.filter((s) => s.label !== null);
    if (!m || !manifest) return say('Choose a model the federation trains first.', 'error');
    if (labelled.length === 0) return say('Label at least one image first.', 'error');
    localStorage.setItem(STORE.federation, federation.value.trim());
    localStorage.setItem(STORE.model, m.id);
    // The token is a credential: it lives as long as this tab, not on the device.
    sessionStorage.setItem(STORE.token, token.value.trim());

    const pre = preprocessOf(manifest);
    const perImage = pre.channels * pre.height * pre.width;
    const pixels = new Float32Array(labelled.length * perImage);
    for (const [i, s] of labelled.entries()) {
      pixels.set(toModelInput(s.image, pre, invert.checked).pixels, i * perImage);
    }
    const dataset = { pixels, labels: Int32Array.from(labelled, (s) => s.label ?? 0), size: labelled.length };

    replace(report);
    setState('running');
    progress.removeAttribute('value');
    progressText.textContent = 'Joining the round…';
    let linkBefore: LinkState | undefined;
    const gate = gatedFetch({
      onChange: (s) => {
        showLink(s, linkBefore);
        linkBefore = s;
      },
    });
    const abort = new AbortController();
    const current: NonNullable<typeof running> = { gate, abort };
    running = current;
    let expected = 0;

    const onJoined = ({ ticket }: TrainerEvents['joined']) => {
      if (ticket.modelId !== m.id) {
        current.reason = `This federation trains ${ticket.modelId}, not ${m.id}: choose ${ticket.modelId} and check the labels.`;
        abort.abort();
        return;
      }
      const batch = Math.min(ticket.batchSize, manifest?.wire.maxBatch ?? ticket.batchSize);
      expected = Math.ceil(dataset.size / batch) * ticket.localEpochs;
      progress.max = expected;
      progress.value = 0;
      progressText.textContent = `Joined round ${ticket.round}: 0 of ${expected} steps.`;
      say(
        `Joined round ${ticket.round} from version ${ticket.version}: ${ticket.localEpochs} epoch(s) over ` +
          `${dataset.size} images in batches of ${batch}, ${ticket.uplink} uplink.`,
      );
    };
    const onStep = (e: TrainerEvents['step']) => {
      progress.value = Math.min(e.step, expected);
      progressText.textContent = `Step ${e.step} of ${expected} (epoch ${e.epoch + 1}), loss ${e.loss.toFixed(3)}.`;
    };

    let trainer: Trainer | undefined;
    try {
      trainer = createTrainer({
        baseUrl: BASE_URL,
        federationId: federation.value.trim(),
        token: token.value.trim(),
        dataset,
        ...(await runtimeOptions()),
        fetch: gate.fetch,
        // Generous: a field link drops for seconds at a time, and every retry of a step is applied once.
        retries: 8,
        retryPolicy: { baseDelayMs: 500, maxDelayMs: 8_000 },
        // One exchange may sit paused for a while; gated-fetch bounds each attempt on the wire.
        timeoutMs: 30 * 60_000,
        signal: abort.signal,
        onWarning: warningSink(m.id),
      });
      trainer.on('joined', onJoined);
      trainer.on('step', onStep);
      trainer.on('submitted', (e) => {
        progress.value = progress.max;
        progressText.textContent = 'Update submitted.';
        say(`Update accepted: ${e.participants} device(s) in round ${e.round} so far.`);
      });
      const result = await trainer.runRound();
      if ('skipped' in result) {
        progress.value = 0;
        progressText.textContent = 'Not trained this time.';
        say(SKIPPED[result.skipped], 'error');
        setState('skipped');
      } else {
        showReport(result);
        progressText.textContent = `Round ${result.round} done: ${result.steps} steps.`;
        say(`Done in ${result.seconds.toFixed(1)} s.`);
        setState('done');
      }
    } catch (err) {
      progress.value = 0;
      const message = current.reason ?? describeError(err);
      // Out of retries on a dead link is worth another go; a refused token or a cancel is not.
      const again = err instanceof TransportError || err instanceof TimeoutError;
      progressText.textContent = 'The round stopped.';
      say(again ? `${message} Contribute again to retry.` : message, 'error');
      setState('failed');
    } finally {
      running = undefined;
      gate.dispose();
      await trainer?.close();
    }
  };

  addInput.addEventListener('change', async () => {
    const files = [...(addInput.files ?? [])];
    addInput.value = '';
    for (const file of files) {
      try {
        samples.push({
          name: file.name,
          image: await createImageBitmap(file),
          url: URL.createObjectURL(file),
          label: null,
        });
      } catch {
        say(`${file.name} is not an image this browser can read.`, 'error');
      }
    }
    renderSamples();
  });
  modelSelect.addEventListener('change', () => loadModel());
  pause.addEventListener('click', () => {
    if (!running) return;
    const { gate } = running;
    if (gate.state.paused) {
      gate.resume();
      pause.textContent = 'Pause';
      say('Resumed.');
    } else {
      gate.pause();
      pause.textContent = 'Resume';
      say('Paused: the round waits at its next request.');
    }
  });
  cancel.addEventListener('click', () => {
    if (!running) return;
    running.reason = 'Cancelled.';
    running.abort.abort();
  });
  onWarning(() => warning.show(privacyWarning(modelSelect.value)));

  const form = h(
    'form',
    {
      onsubmit: (e) => {
        e.preventDefault();
        run().catch((err: unknown) => say(`Could not start: ${describeError(err)}`, 'error'));
      },
    },
    h(
      'fieldset',
      {},
      h('legend', {}, 'Federation'),
      h('label', { for: 'train-federation' }, 'Federation id'),
      federation,
      h('label', { for: 'train-token' }, 'Device token'),
      token,
      h('p', { class: 'hint', id: 'train-token-hint' }, 'Kept only while this tab is open.'),
      h('label', { for: 'train-model' }, 'Model the federation trains'),
      modelSelect,
    ),
    warning.element,
    h(
      'fieldset',
      {},
      h('legend', { id: 'train-images-title' }, 'Your labelled images'),
      h('label', { class: 'button secondary' }, addInput, 'Add images'),
      h(
        'div',
        { class: 'check' },
        invert,
        h('label', { for: 'train-invert' }, 'Invert colours (dark subject on a light background)'),
      ),
      count,
      list,
    ),
    h('div', { class: 'actions' }, contribute, pause, cancel),
  );

  const view = h(
    'section',
    { id: 'train-view', 'aria-labelledby': 'train-title', class: 'view' },
    h('h2', { id: 'train-title', tabindex: '-1' }, 'Contribute training'),
    h(
      'p',
      { class: 'hint' },
      'Label a few images, then train the shared model with them. The images stay on this device; ' +
        'what the first layers make of them, the labels and the update are sent.',
    ),
    form,
    h(
      'section',
      { 'aria-labelledby': 'train-round-title' },
      h('h3', { id: 'train-round-title' }, 'Round'),
      h('label', { for: 'train-progress' }, 'Progress'),
      progress,
      progressText,
      link,
      log,
      report,
    ),
  );
  setState('idle');
  updateCount();
  loadModel();
  return view;
}
