/** A test's view of a real store with one of its methods wrapped (to record or to fail its calls). */
import type { Store } from '../../src/store/port.ts';

/** `store`, where `method` is what `wrap` makes of the real one (bound to the store); every other method is the store's own. */
export function storeWith<K extends keyof Store>(store: Store, method: K, wrap: (real: Store[K]) => Store[K]): Store {
  const real = (store[method] as (...a: unknown[]) => unknown).bind(store) as Store[K];
  const wrapped = wrap(real);
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === method) return wrapped;
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
