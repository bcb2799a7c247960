// One way of saying what was wrong with an argument: "<name>: expected <what>, received <what>".

/** A short description of a received value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : `${value}`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'bigint') return `the bigint ${value}n`;
  if (typeof value !== 'object') return `a ${typeof value}`;
  if (ArrayBuffer.isView(value)) {
    const name = value.constructor?.name ?? 'TypedArray';
    return 'length' in value ? `${name}(${(value as { length: number }).length})` : name;
  }
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  const shaped = value as { rows?: unknown; cols?: unknown; dtype?: unknown; constructor?: { name?: string } };
  if (typeof shaped.rows === 'number' && typeof shaped.cols === 'number' && typeof shaped.dtype === 'string') {
    return `a ${shaped.dtype} matrix ${shaped.rows}×${shaped.cols}`;
  }
  const ctor = shaped.constructor?.name;
  return ctor && ctor !== 'Object' ? `a ${ctor}` : 'an object';
}

export function typeError(name: string, expected: string, received: unknown): TypeError {
  return new TypeError(`${name}: expected ${expected}, received ${describe(received)}`);
}

export function rangeError(name: string, expected: string, received: string): RangeError {
  return new RangeError(`${name}: expected ${expected}, received ${received}`);
}
