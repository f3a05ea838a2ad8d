import { expect } from 'vitest';

/** Runs `fn`, expects it to throw an instance of `errorClass`, and returns the error for further checks. */
export function refusal<E extends Error>(errorClass: abstract new (...args: never[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(errorClass);
    return error as E;
  }
  throw new Error(`expected a ${errorClass.name}`);
}
