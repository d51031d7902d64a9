// The field app: what a person with a device uses. Two views, switched by the
// URL's hash so each can be linked to: #predict (split inference on a photo)
// and #train (labelling images and contributing a federated round).
import './styles.css';
import { h, replace } from './dom.js';
import { inferView } from './infer-view.js';
import { listModels } from './sdk.js';
import { trainView } from './train-view.js';

const VIEWS = [
  { hash: '#predict', title: 'Predict' },
  { hash: '#train', title: 'Train' },
] as const;

async function start(): Promise<void> {
  const main = document.getElementById('main') as HTMLElement;
  const nav = document.getElementById('views') as HTMLElement;
  let models: Awaited<ReturnType<typeof listModels>>;
  try {
    models = await listModels();
  } catch (err) {
    replace(
      main,
      h('p', { class: 'status error', role: 'alert' }, `Cannot reach the service: ${(err as Error).message}`),
    );
    return;
  }
  const views = [inferView(models), trainView(models)];
  const links = VIEWS.map((v) => h('a', { href: v.hash }, v.title));
  replace(nav, h('ul', {}, ...links.map((a) => h('li', {}, a))));
  replace(main, ...views);

  const show = (moveFocus: boolean) => {
    const index = Math.max(
      0,
      VIEWS.findIndex((v) => v.hash === location.hash),
    );
    views.forEach((view, i) => {
      view.hidden = i !== index;
      if (i === index) links[i].setAttribute('aria-current', 'page');
      else links[i].removeAttribute('aria-current');
    });
    document.title = `${VIEWS[index].title} · splitflare field app`;
    // A new view is like a new page: put keyboard and screen reader users at its heading.
    if (moveFocus) views[index].querySelector('h2')?.focus();
  };
  window.addEventListener('hashchange', () => show(true));
  show(false);
  document.body.dataset.ready = 'true';
}

start();
