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
  /** The values long enough to scrub, by their first MIN_SCRUB_LENGTH characters. */
  private readonly index = new Map<string, string[]>();

  /** `onAdd` registers a value with whatever prints (the runner's masker); called before `add` returns. */
  constructor(private readonly onAdd: (secret: string) => void = () => {}) {}

  /** Register a secret in the forms it can take on the way out: raw, URL-encoded and JSON-escaped. */
  add(secret: string | undefined): void {
    if (!secret) return;
    for (const form of [secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)]) {
      if (form === '' || this.values.has(form)) continue;
      this.values.add(form);
      if (form.length >= MIN_SCRUB_LENGTH) {
        const key = form.slice(0, MIN_SCRUB_LENGTH);
        const bucket = this.index.get(key);
        if (bucket) bucket.push(form);
        else this.index.set(key, [form]);
      }
      this.onAdd(form);
    }
  }

  /** A snapshot of every form registered so far. */
  list(): string[] {
    return [...this.values];
  }

  /**
   * Replace every registered secret and every presigned signature with `***`. Every occurrence of every secret
   * is covered, overlapping ones too (their union becomes one `***`). The cost is the text's length, not the
   * number of secrets: a run registers a signature per file, and every line it prints is scrubbed.
   */
  scrub(text: string): string {
    const index = this.index;
    let covered: Uint8Array | undefined;
    for (let i = 0; i + MIN_SCRUB_LENGTH <= text.length; i++) {
      for (const s of index.get(text.slice(i, i + MIN_SCRUB_LENGTH)) ?? []) {
        if (text.startsWith(s, i)) (covered ??= new Uint8Array(text.length)).fill(1, i, i + s.length);
      }
    }
    let out = text;
    if (covered) {
      out = '';
      for (let i = 0; i < text.length; ) {
        if (!covered[i]) {
          out += text[i++];
          continue;
        }
        out += '***';
        while (covered[i]) i++;
      }
    }
    return out.replace(SIGNATURE, '$1***');
  }
}
