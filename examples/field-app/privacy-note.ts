// The SDK's warning that the server can reconstruct the input from what this
// model sends, shown where the person decides what to send.
import { h } from './dom.js';

export function privacyNote(): { element: HTMLElement; show(message: string | undefined): void } {
  const text = h('span', {});
  const element = h(
    'div',
    { class: 'privacy', role: 'note', hidden: true },
    h('p', {}, h('strong', {}, 'Privacy: '), text),
  );
  return {
    element,
    show(message) {
      element.hidden = !message;
      text.textContent = message?.replace(/^splitflare: /, '') ?? '';
    },
  };
}
