/**
 * How pageframe's objects show in `console.log` and `util.inspect`: one line each
 * (`Frame(0x3000, count 2, app.page)`), instead of the fields of the object, the region and the
 * memory behind it. Node, Deno and Bun all call a method under this registered symbol; browsers
 * show the object as it is.
 */

/** The registered symbol of Node's `util.inspect.custom` (a string returned is printed as is). */
export const INSPECT: unique symbol = Symbol.for('nodejs.util.inspect.custom');

/**
 * `describe()`, or `fallback` if it throws: inspecting an object never fails, whatever state it is
 * in (a closed system, a destroyed list).
 */
export function inspectSafely(describe: () => string, fallback: () => string): string {
  try {
    return describe();
  } catch {
    return fallback();
  }
}
