// The one registry of secrets for a run: the credentials from the inputs, the tokens fetched at run time
// (ION client credentials, refreshed tokens) and presigned query strings and signatures. Whatever is added is
// handed to the printer's masker at once (the runner's `::add-mask::`), and the same live set scrubs every
// string that leaves the process by another way (outputs, summary, comment, the CLI's results).

/** Presigned signatures never leave, whatever produced them, registered or not. */
const SIGNATURE = /((?:X-Amz-Signature|x-amz-signature|X-Goog-Signature|x-goog-signature|sig|Signature)=)[^&\s"'<>\\]+/g;

/** Shorter values are not scrubbed: replacing every `abc` in a message would hide more than it protects. */
const MIN_SCRUB_LENGTH = 4;

/** A hash of MIN_SCRUB_LENGTH UTF-16 code units that rolls along a text (mod 2³²); a hit is then compared in full. */
const P = 0x01000193;
const P_TOP = Math.imul(Math.imul(P, P), P); // P^(MIN_SCRUB_LENGTH - 1)
function headHash(text: string, at: number): number {
  let h = 0;
  for (let k = 0; k < MIN_SCRUB_LENGTH; k++) h = (Math.imul(h, P) + text.charCodeAt(at + k)) | 0;
  return h;
}

export class Secrets {
  private readonly values = new Set<string>();
  /** The values long enough to scrub, by the hash of their first MIN_SCRUB_LENGTH characters. */
  private readonly index = new Map<number, string[]>();
  /** The low 16 bits of every hash in `index`: most positions of a text are passed over on this alone. */
  private readonly maybe = new Uint8Array(65_536);

  /** `onAdd` registers a value with whatever prints (the runner's masker); called before `add` returns. */
  constructor(private readonly onAdd: (secret: string) => void = () => {}) {}

  /** Register a secret in the forms it can take on the way out: raw, URL-encoded and JSON-escaped. */
  add(secret: string | undefined): void {
    if (!secret) return;
    for (const form of [secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)]) {
      if (form === '' || this.values.has(form)) continue;
      this.values.add(form);
      if (form.length >= MIN_SCRUB_LENGTH) {
        const key = headHash(form, 0);
        const bucket = this.index.get(key);
        if (bucket) bucket.push(form);
        else this.index.set(key, [form]);
        this.maybe[key & 0xffff] = 1;
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
   * number of secrets: a run registers a signature per file, and every line it prints is scrubbed (and the
   * outputs and the summary of thousands of files are megabytes): a hash of four characters rolls along the text,
   * and only a position whose hash some secret starts with is compared.
   */
  scrub(text: string): string {
    let covered: Uint8Array | undefined;
    if (this.index.size > 0 && text.length >= MIN_SCRUB_LENGTH) {
      const { index, maybe } = this;
      let h = headHash(text, 0);
      for (let i = 0; ; i++) {
        if (maybe[h & 0xffff] === 1) {
          for (const s of index.get(h) ?? []) {
            if (text.startsWith(s, i)) (covered ??= new Uint8Array(text.length)).fill(1, i, i + s.length);
          }
        }
        if (i + MIN_SCRUB_LENGTH >= text.length) break;
        h = (Math.imul(h - Math.imul(text.charCodeAt(i), P_TOP), P) + text.charCodeAt(i + MIN_SCRUB_LENGTH)) | 0;
      }
    }
    let out = text;
    if (covered) {
      const parts: string[] = [];
      for (let i = 0; i < text.length; ) {
        const start = i;
        while (i < text.length && !covered[i]) i++;
        if (i > start) parts.push(text.slice(start, i));
        if (i >= text.length) break;
        parts.push('***');
        while (covered[i]) i++;
      }
      out = parts.join('');
    }
    return out.replace(SIGNATURE, '$1***');
  }
}
