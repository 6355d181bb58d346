/**
 * Helpers of the TypeScript layer's own argument checks (networks, data, training). The ops
 * are checked natively (README.md, "Errors"); these write messages the same way:
 * `${fn}: ${arg} must be …, got …`, a TypeError for a value of the wrong type.
 *
 * @packageDocumentation
 */

/** How a value is named in messages: its typeof, but "null" for null and "array" for arrays. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** A plain options object (undefined / null -> `{}` unless `required`); TypeError otherwise. */
export function checkOptions(op: string, value: unknown, required = false): Record<string, unknown> {
  if (!required && (value === undefined || value === null)) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${op}: options must be an object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

/** "(2, 3)", as shapes are printed in messages. */
export function shapeString(shape: readonly number[]): string {
  return `(${shape.join(', ')})`;
}
