// One way of saying what was wrong with an argument: "<name>: expected <what>, received <what>".
import { types } from 'node:util';

// Intrinsic getters, called directly so that a subclass or an own property cannot answer for them.
const typedArrayProto = Object.getPrototypeOf(Uint8Array.prototype) as object;
const typedArrayLength = Object.getOwnPropertyDescriptor(typedArrayProto, 'length')!.get!;
const typedArrayName = Object.getOwnPropertyDescriptor(typedArrayProto, Symbol.toStringTag)!.get!;
const typedArrayBuffer = Object.getOwnPropertyDescriptor(typedArrayProto, 'buffer')!.get!;
const arrayBufferSlice = ArrayBuffer.prototype.slice;

/** Whether a typed array's ArrayBuffer was detached (transferred, e.g. with structuredClone). */
export function isDetached(array: ArrayBufferView): boolean {
  const buffer = typedArrayBuffer.call(array) as ArrayBufferLike;
  if (!types.isArrayBuffer(buffer)) return false; // a SharedArrayBuffer cannot be detached
  try {
    arrayBufferSlice.call(buffer, 0, 0);
    return false;
  } catch {
    return true;
  }
}

/** An own data property's value (never a getter's result); undefined otherwise. */
function ownData(o: object, key: PropertyKey): unknown {
  const d = Object.getOwnPropertyDescriptor(o, key);
  return d && 'value' in d ? d.value : undefined;
}

/** The name of the class an object was made by, read without running any user code. */
function className(o: object): string | undefined {
  for (let p = Object.getPrototypeOf(o) as object | null; p !== null; p = Object.getPrototypeOf(p) as object | null) {
    if (types.isProxy(p)) return undefined;
    const ctor = ownData(p, 'constructor');
    if (typeof ctor === 'function') {
      const name = ownData(ctor, 'name');
      return typeof name === 'string' && name !== '' ? name : undefined;
    }
  }
  return undefined;
}

/**
 * A short description of a received value for error messages. It runs no code of the value's
 * (no getters, no Proxy traps, no toString), so describing a wrong argument cannot throw or
 * replace the error being reported.
 */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : `${value}`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'bigint') return `the bigint ${value}n`;
  if (typeof value !== 'object') return `a ${typeof value}`;
  if (types.isProxy(value)) return 'a Proxy';
  if (types.isTypedArray(value)) {
    const length = typedArrayLength.call(value) as number;
    const name = typedArrayName.call(value) as string;
    return length === 0 && isDetached(value) ? `${name} over a detached (transferred) buffer` : `${name}(${length})`;
  }
  if (ArrayBuffer.isView(value)) return 'a DataView';
  if (Array.isArray(value)) return `an array of length ${ownData(value, 'length') as number}`;
  const rows = ownData(value, 'rows'), cols = ownData(value, 'cols'), dtype = ownData(value, 'dtype');
  if (typeof rows === 'number' && typeof cols === 'number' && typeof dtype === 'string') {
    return `a ${dtype} matrix ${rows}×${cols}`;
  }
  const ctor = className(value);
  return ctor && ctor !== 'Object' ? `a ${ctor}` : 'an object';
}

export function typeError(name: string, expected: string, received: unknown): TypeError {
  return new TypeError(`${name}: expected ${expected}, received ${describe(received)}`);
}

export function rangeError(name: string, expected: string, received: string): RangeError {
  return new RangeError(`${name}: expected ${expected}, received ${received}`);
}
