// zod for every module of the action, as `import * as z from '…/core/schema.js'`: zod/mini, the same library
// and checks as `zod` (both build on zod's core) with a functional API (`z.nullish(z.string())` for
// `z.string().nullish()`). `zod`'s classic API builds every method on every schema as it is made and cannot be
// tree-shaken; measured at start-up, a run's entry spent about 10 ms more CPU on it than on this
// (`node --cpu-prof`). Named exports only, so the bundle keeps only what is used. Errors read as with `zod`:
// mini leaves the messages to the locale, so English is set here, as `zod` sets it.
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

export {
  array,
  boolean,
  catchall,
  enum,
  extend,
  gte,
  int,
  literal,
  lte,
  maxLength,
  minLength,
  nonnegative,
  nullable,
  nullish,
  number,
  object,
  optional,
  pipe,
  record,
  refine,
  regex,
  safeParse,
  strictObject,
  string,
  superRefine,
  transform,
  union,
  unknown,
  url,
} from 'zod/mini';
export type { infer } from 'zod/mini';
export type * as core from 'zod/v4/core';
