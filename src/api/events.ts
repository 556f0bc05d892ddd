// The AsyncIterable behind Runtime.events(): subscribed when events() is
// called (not at the first next()), so nothing that happens in between is
// missed; buffered, so a slow consumer loses nothing either.
import type { RuntimeEvent } from './types.js';

export function eventStream(
  subscribe: (push: (ev: RuntimeEvent) => void) => () => void,
  signal?: AbortSignal,
): AsyncIterableIterator<RuntimeEvent> {
  const queue: RuntimeEvent[] = [];
  let pending: { resolve: (r: IteratorResult<RuntimeEvent>) => void; reject: (e: unknown) => void } | undefined;
  let done = false;
  let failure: { reason: unknown } | undefined;

  const finish = (): void => {
    if (done) return;
    done = true;
    unsubscribe();
    signal?.removeEventListener('abort', onAbort);
    queue.length = 0;
  };
  const onAbort = (): void => {
    finish();
    if (pending) {
      pending.reject(signal?.reason);
      pending = undefined;
    } else {
      failure = { reason: signal?.reason };
    }
  };
  const unsubscribe = subscribe((ev) => {
    if (done) return;
    if (pending) {
      pending.resolve({ value: ev, done: false });
      pending = undefined;
    } else {
      queue.push(ev);
    }
  });
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });

  const iterator: AsyncIterableIterator<RuntimeEvent> = {
    next() {
      if (failure) {
        const { reason } = failure;
        failure = undefined;
        return Promise.reject(reason);
      }
      if (queue.length > 0) return Promise.resolve({ value: queue.shift()!, done: false });
      if (done) return Promise.resolve({ value: undefined, done: true });
      if (pending) return Promise.reject(new Error('events(): next() called again before the previous one settled'));
      return new Promise((resolve, reject) => { pending = { resolve, reject }; });
    },
    // `break` in for-await lands here: stop listening.
    return() {
      finish();
      if (pending) {
        pending.resolve({ value: undefined, done: true });
        pending = undefined;
      }
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
