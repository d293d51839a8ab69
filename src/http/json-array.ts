// A JSON array read one element at a time, as its bytes arrive: a list answer as long as the server makes it (an
// ARCNM organisation's every upload) costs the memory of one element and of what the caller keeps, not of the
// whole answer three times over (its bytes, its text and its parsed rows). Each element is parsed with
// JSON.parse, so an element is exactly as valid as it would be in the whole; the scanner only finds where each
// one ends (strings, escapes and nesting), and checks what lies between them.

/** No list row comes near this; a longer element is refused rather than held. */
export const MAX_ELEMENT_BYTES = 1024 * 1024;
/** Whole elements of one chunk parsed in one JSON.parse, up to about this many bytes of them. */
const BATCH_BYTES = 64 * 1024;

const enum State {
  /** Before the `[`. */
  Start,
  /** After the `[`: an element or the `]`. */
  First,
  /** After a `,`: an element. */
  Next,
  /** Inside an element. */
  Element,
  /** After an element: a `,` or the `]`. */
  After,
  /** After the `]`: white space only. */
  Done,
}

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_SQUARE = 0x5b;
const CLOSE_SQUARE = 0x5d;
const OPEN_CURLY = 0x7b;
const CLOSE_CURLY = 0x7d;

const isSpace = (b: number) => b === SPACE || b === LF || b === CR || b === TAB;

/** Why the bytes are not a JSON array (the caller names the answer). */
export class JsonArrayError extends Error {}

/**
 * Feed it the body's chunks (`push`), then `end()`: `onElement` gets every element of the top-level array, in
 * order, parsed. Anything but one JSON array (an object, trailing text, a cut-off body) throws a JsonArrayError.
 */
export class JsonArrayReader {
  private state = State.Start;
  /** Nesting depth inside the element (0: a bare string, number, true, false or null). */
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** The element's bytes from earlier chunks (an element that spans chunks). */
  private parts: Buffer[] = [];
  private partBytes = 0;
  /** Where the whole elements of this chunk not yet parsed start and end. */
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  /** Elements read so far. */
  private count = 0;

  constructor(private readonly onElement: (element: unknown) => void) {}

  push(chunk: Buffer): void {
    // The state in locals while scanning (this is the loop every byte of a long list goes through).
    let { state, depth, inString, escaped } = this;
    let start = state === State.Element ? 0 : -1;
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const b = chunk[i]!;
      if (state === State.Element) {
        if (inString) {
          if (escaped) {
            escaped = false;
            continue;
          }
          // Most of a list's bytes are inside strings: jump to the next quote (a native search), then count the
          // backslashes right before it: an odd run escapes it.
          const quote = chunk.indexOf(QUOTE, i);
          const to = quote < 0 ? n : quote;
          let run = 0;
          while (to - run - 1 >= i && chunk[to - run - 1] === BACKSLASH) run++;
          if (quote < 0) {
            // The string goes on in the next chunk, whose first byte is escaped after an odd run.
            escaped = run % 2 === 1;
            i = n;
          } else if (run % 2 === 0) {
            i = quote;
            inString = false;
            if (depth === 0) state = this.emit(chunk, start, i + 1);
          } else i = quote;
        } else if (b === QUOTE) inString = true;
        else if (b === OPEN_CURLY || b === OPEN_SQUARE) depth++;
        else if (b === CLOSE_CURLY || b === CLOSE_SQUARE) {
          if (depth === 0) {
            // The `]` that ends the array, right after a bare number, true, false or null: read again below.
            state = this.emit(chunk, start, i);
            i--;
          } else if (--depth === 0) state = this.emit(chunk, start, i + 1);
        } else if (depth === 0 && (b === COMMA || isSpace(b))) {
          state = this.emit(chunk, start, i);
          i--;
        }
        continue;
      }
      if (isSpace(b)) continue;
      switch (state) {
        case State.Start:
          if (b !== OPEN_SQUARE) throw new JsonArrayError(`it is not a JSON array (it starts with ${describe(b)})`);
          state = State.First;
          break;
        case State.First:
        case State.Next:
          if (b === CLOSE_SQUARE && state === State.First) {
            state = State.Done;
            break;
          }
          if (b === COMMA || b === CLOSE_SQUARE) throw new JsonArrayError(`it has ${describe(b)} where an element was expected (after element ${this.count + this.ends.length})`);
          // The element's first byte is read again as part of it.
          start = i;
          state = State.Element;
          depth = 0;
          inString = false;
          escaped = false;
          i--;
          break;
        case State.After:
          if (b === COMMA) state = State.Next;
          else if (b === CLOSE_SQUARE) state = State.Done;
          else throw new JsonArrayError(`it has ${describe(b)} after element ${this.count + this.ends.length}, where a comma or the closing bracket was expected`);
          break;
        case State.Done:
          throw new JsonArrayError(`it goes on after the closing bracket (${describe(b)})`);
      }
    }
    this.flush(chunk);
    this.state = state;
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    if (state === State.Element) {
      // The element goes on in the next chunk: keep its bytes so far (a view of the chunk; bounded by the cap).
      this.partBytes += n - start;
      if (this.partBytes > MAX_ELEMENT_BYTES) throw new JsonArrayError(`element ${this.count + 1} is longer than ${MAX_ELEMENT_BYTES / 1024} KiB`);
      this.parts.push(chunk.subarray(start));
    }
  }

  /** The body ended: throws unless the array was closed. */
  end(): void {
    if (this.state !== State.Done) throw new JsonArrayError(`it ends before the closing bracket (after ${this.count} elements)`);
  }

  /**
   * The element from `start` to `end` of this chunk (after the parts before it) read. Elements that lie whole in
   * one chunk are parsed together, in one JSON.parse a batch (a chunk is at most BATCH_BYTES of them): one call for
   * hundreds of rows, not one each.
   */
  private emit(chunk: Buffer, start: number, end: number): State {
    if (this.parts.length === 0) {
      if (end - start > MAX_ELEMENT_BYTES) throw new JsonArrayError(`element ${this.count + this.ends.length + 1} is longer than ${MAX_ELEMENT_BYTES / 1024} KiB`);
      this.starts.push(start);
      this.ends.push(end);
      if (end - this.starts[0]! >= BATCH_BYTES) this.flush(chunk);
      return State.After;
    }
    // An element that spans chunks began before anything of this chunk's batch.
    const total = this.partBytes + (end - start);
    if (total > MAX_ELEMENT_BYTES) throw new JsonArrayError(`element ${this.count + 1} is longer than ${MAX_ELEMENT_BYTES / 1024} KiB`);
    this.parts.push(chunk.subarray(start, end));
    const text = Buffer.concat(this.parts, total).toString('utf8');
    this.parts = [];
    this.partBytes = 0;
    this.onElement(this.parse(text, this.count + 1));
    this.count++;
    return State.After;
  }

  /** The batch of whole elements of this chunk, parsed and handed on. */
  private flush(chunk: Buffer): void {
    const { starts, ends } = this;
    if (starts.length === 0) return;
    // Only commas and white space lie between the elements (the scanner saw to that): together, in brackets, they
    // are one JSON array exactly when each is JSON.
    let elements: unknown;
    try {
      elements = JSON.parse(`[${chunk.toString('utf8', starts[0], ends[ends.length - 1])}]`);
    } catch {
      elements = undefined;
    }
    if (!Array.isArray(elements) || elements.length !== starts.length) {
      // Which one is not JSON, for the message.
      for (let k = 0; k < starts.length; k++) this.parse(chunk.toString('utf8', starts[k], ends[k]), this.count + k + 1);
      throw new JsonArrayError(`elements ${this.count + 1} to ${this.count + starts.length} are not ${starts.length} JSON values`);
    }
    starts.length = 0;
    ends.length = 0;
    for (const element of elements) {
      this.count++;
      this.onElement(element);
    }
  }

  private parse(text: string, nth: number): unknown {
    try {
      return JSON.parse(text);
    } catch {
      throw new JsonArrayError(`element ${nth} is not JSON (it starts ${JSON.stringify(text.slice(0, 40))})`);
    }
  }
}

function describe(b: number): string {
  return b >= 0x21 && b < 0x7f ? `"${String.fromCharCode(b)}"` : `byte 0x${b.toString(16).padStart(2, '0')}`;
}
