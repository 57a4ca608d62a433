// Calling watch handlers, shared by both backends.

/**
 * A throwing handler is the caller's bug: surface it as an uncaught exception (so it is seen), but never
 * inside the backend's own event handling, and never at the cost of delivery to other watchers.
 */
export function callHandler(call: () => void): void {
  try {
    call();
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}
