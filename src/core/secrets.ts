// The one registry of secrets for a run: the credentials from the inputs, the tokens fetched at run time
// (ION client credentials, refreshed tokens) and presigned query strings and signatures. Whatever is added is
// handed to the printer's masker at once (the runner's `::add-mask::`), and the same live set scrubs every
// string that leaves the process by another way (outputs, summary, comment, the CLI's results).

/** Presigned signatures never leave, whatever produced them, registered or not. */
const SIGNATURE = /((?:X-Amz-Signature|x-amz-signature|X-Goog-Signature|x-goog-signature|sig|Signature)=)[^&\s"'<>\\]+/g;

/** Shorter values are not scrubbed: replacing every `abc` in a message would hide more than it protects. */
const MIN_SCRUB_LENGTH = 4;

export class Secrets {
  private readonly values = new Set<string>();

  /** `onAdd` registers a value with whatever prints (the runner's masker); called before `add` returns. */
  constructor(private readonly onAdd: (secret: string) => void = () => {}) {}

  /** Register a secret in the forms it can take on the way out: raw, URL-encoded and JSON-escaped. */
  add(secret: string | undefined): void {
    if (!secret) return;
    for (const form of [secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)]) {
      if (form === '' || this.values.has(form)) continue;
      this.values.add(form);
      this.onAdd(form);
    }
  }

  /** A snapshot of every form registered so far. */
  list(): string[] {
    return [...this.values];
  }

  /** Replace every registered secret (longest first) and every presigned signature with `***`. */
  scrub(text: string): string {
    let out = text;
    const values = [...this.values].filter((s) => s.length >= MIN_SCRUB_LENGTH).sort((a, b) => b.length - a.length);
    for (const s of values) out = out.split(s).join('***');
    return out.replace(SIGNATURE, '$1***');
  }
}
