// Predict: pick or photograph an image, see what the model sees, and the
// split prediction with what it cost on the wire and in time.
import type { InferResult } from '@splitflare/client';
import { describeError, details, formatBytes, formatMs, formatPercent, h, replace } from './dom.js';
import { paint, preprocessOf, toModelInput } from './preprocess.js';
import { privacyNote } from './privacy-note.js';
import { type Encoding, type ModelSummary, onWarning, privacyWarning, splitClient } from './sdk.js';

const TOP_K = 5;

export function inferView(models: ModelSummary[]): HTMLElement {
  const modelSelect = h(
    'select',
    { id: 'infer-model' },
    ...models.map((m) => h('option', { value: m.id }, m.id)),
  );
  // The digits model's classifier is trained; a fine-tuning base may not be.
  modelSelect.value = models.some((m) => m.id === 'vit-mnist') ? 'vit-mnist' : (models[0]?.id ?? '');
  const encodingSelect = h('select', { id: 'infer-encoding' });
  const invert = h('input', { type: 'checkbox', id: 'infer-invert' });
  const fileInput = h('input', { type: 'file', accept: 'image/*', class: 'visually-hidden' });
  const cameraInput = h('input', {
    type: 'file',
    accept: 'image/*',
    capture: 'environment',
    class: 'visually-hidden',
  });
  const status = h('p', { class: 'status', role: 'status' });
  const warning = privacyNote();
  const photo = h('img', { alt: 'The chosen image', class: 'photo' });
  const seen = h('canvas', { class: 'seen', role: 'img', 'aria-label': 'The image as the model sees it' });
  const seenCaption = h('figcaption', {}, 'What the model sees');
  const images = h(
    'div',
    { class: 'images', hidden: true },
    h('figure', {}, photo, h('figcaption', {}, 'Your image')),
    h('figure', {}, seen, seenCaption),
  );
  const result = h('div', { class: 'result' });
  const resultSection = h(
    'section',
    { 'aria-labelledby': 'result-title', hidden: true },
    h('h3', { id: 'result-title' }, 'Prediction'),
    result,
  );

  let image: ImageBitmap | undefined;
  let imageName = '';
  let photoUrl: string | undefined;
  // Only the latest request may write the result: changing a setting mid-flight starts another.
  let generation = 0;

  const model = () => models.find((m) => m.id === modelSelect.value);

  const showWarning = () => warning.show(privacyWarning(modelSelect.value));
  onWarning(showWarning);

  const fillEncodings = () => {
    const m = model();
    const previous = encodingSelect.value;
    replace(encodingSelect, ...(m?.encodings ?? []).map((e) => h('option', { value: e }, e)));
    const wanted = m?.encodings.includes(previous as Encoding) ? previous : 'int8';
    if (m?.encodings.includes(wanted as Encoding)) encodingSelect.value = wanted;
  };

  const run = async () => {
    const m = model();
    if (!m) return;
    const mine = ++generation;
    const encoding = encodingSelect.value as Encoding;
    try {
      status.className = 'status';
      status.textContent = 'Loading the model…';
      const client = await splitClient(m.id, encoding);
      const manifest = await client.manifest();
      if (mine !== generation) return;
      showWarning();
      if (!image) {
        status.textContent = 'Choose an image or take a photo.';
        return;
      }
      const pre = preprocessOf(manifest);
      const input = toModelInput(image, pre, invert.checked);
      paint(seen, input.visible);
      seenCaption.textContent = `What the model sees (${pre.width}×${pre.height})`;
      images.hidden = false;
      status.textContent = 'Running the first layers here and the rest at the edge…';
      const answer = await client.infer({ pixels: input.pixels, batch: 1 }, { topK: TOP_K });
      if (mine !== generation) return;
      showResult(answer, encoding);
      status.textContent = `Predicted ${answer.predictions[0][0]?.label ?? answer.predictions[0][0]?.index}.`;
    } catch (err) {
      if (mine !== generation) return;
      status.className = 'status error';
      status.textContent = `Could not predict: ${describeError(err)}`;
    }
  };

  const showResult = (answer: InferResult, encoding: string) => {
    const [top] = answer.predictions;
    const { stats } = answer;
    replace(
      result,
      h(
        'ol',
        { class: 'topk' },
        ...top.map((p) =>
          h(
            'li',
            {},
            h('span', { class: 'label' }, p.label ?? String(p.index)),
            h(
              'span',
              { class: 'bar', 'aria-hidden': 'true' },
              h('span', { style: `width:${100 * p.score}%` }),
            ),
            h('span', { class: 'score' }, formatPercent(p.score)),
          ),
        ),
      ),
      details([
        ['Sent', `${formatBytes(stats.bytesUp)} (${encoding})`],
        ['Received', formatBytes(stats.bytesDown)],
        ['First layers on this device', formatMs(stats.headMs)],
        ['Round trip to the edge', formatMs(stats.roundTripMs)],
        ['Attempts', String(stats.attempts)],
      ]),
    );
    // What the result is of, for anyone reading the DOM (the tests do).
    result.dataset.image = imageName;
    result.dataset.bytesUp = String(stats.bytesUp);
    resultSection.hidden = false;
  };

  const choose = async (input: HTMLInputElement) => {
    const file = input.files?.[0];
    if (!file) return;
    try {
      image = await createImageBitmap(file);
    } catch {
      status.className = 'status error';
      status.textContent = `${file.name} is not an image this browser can read.`;
      return;
    }
    imageName = file.name;
    if (photoUrl) URL.revokeObjectURL(photoUrl);
    photoUrl = URL.createObjectURL(file);
    photo.src = photoUrl;
    photo.alt = `The chosen image, ${file.name}`;
    // Choosing the same file again should run again.
    input.value = '';
    await run();
  };

  fileInput.addEventListener('change', () => choose(fileInput));
  cameraInput.addEventListener('change', () => choose(cameraInput));
  modelSelect.addEventListener('change', () => {
    fillEncodings();
    resultSection.hidden = true;
    run();
  });
  encodingSelect.addEventListener('change', () => run());
  invert.addEventListener('change', () => run());

  fillEncodings();
  run();

  return h(
    'section',
    { id: 'predict-view', 'aria-labelledby': 'infer-title', class: 'view' },
    h('h2', { id: 'infer-title', tabindex: '-1' }, 'Predict'),
    h(
      'p',
      { class: 'hint' },
      'The first layers of the model run on this device; only their output is sent to the edge, which runs the rest.',
    ),
    warning.element,
    h(
      'div',
      { class: 'fields' },
      h('label', { for: 'infer-model' }, 'Model'),
      modelSelect,
      h('label', { for: 'infer-encoding' }, 'Encoding of what is sent'),
      encodingSelect,
    ),
    h(
      'div',
      { class: 'check' },
      invert,
      h('label', { for: 'infer-invert' }, 'Invert colours (dark subject on a light background)'),
    ),
    h(
      'div',
      { class: 'pickers' },
      h('label', { class: 'button' }, fileInput, 'Choose an image'),
      h('label', { class: 'button secondary' }, cameraInput, 'Take a photo'),
    ),
    status,
    images,
    resultSection,
  );
}
