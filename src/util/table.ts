/**
 * A lookup table keyed by strings that come from outside (webhook event names, audit actions,
 * vendor type codes). A plain object literal inherits from Object.prototype, so a payload naming
 * its event "toString" or "constructor" would find a function where a table entry was expected.
 * The table returned here has no prototype and is frozen: only its own keys are found.
 */
export function table<T>(entries: Record<string, T>): Readonly<Record<string, T | undefined>> {
  return Object.freeze(Object.assign(Object.create(null) as Record<string, T>, entries));
}
