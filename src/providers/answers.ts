// Reading vendors' answers, the same way for every provider: a shape check whose failure says what differed,
// and a body that may or may not be JSON (error pages).
import * as z from '../core/schema.js';
import { PublishError } from '../core/errors.js';

/** `value` as `schema` describes it, or a PublishError (`invalid_response`) naming `what` and every difference. */
export function parseAnswer<T>(schema: z.core.$ZodType<T>, value: unknown, what: string): T {
  const parsed = z.safeParse(schema, value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new PublishError(`${what}: unexpected answer shape (${issues})`, 'invalid_response');
  }
  return parsed.data;
}

/** The body as JSON, or undefined when it is not JSON. */
export function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
