// A minimal typed event emitter: EventTarget would force payloads into
// CustomEvent and lose their types, and Node's EventEmitter is not in browsers.
import type { TrainerEventName, TrainerEvents } from './types.js';

type Listener<E extends TrainerEventName> = (payload: TrainerEvents[E]) => void;

export class TrainerEmitter {
  private readonly listeners = new Map<TrainerEventName, Set<Listener<TrainerEventName>>>();

  on<E extends TrainerEventName>(event: E, listener: Listener<E>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    const stored = listener as Listener<TrainerEventName>;
    set.add(stored);
    return () => {
      set.delete(stored);
    };
  }

  emit<E extends TrainerEventName>(event: E, payload: TrainerEvents[E]): void {
    for (const listener of this.listeners.get(event) ?? []) {
      // A listener's bug must not abort a round that is spending a budget on the server.
      try {
        listener(payload);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
