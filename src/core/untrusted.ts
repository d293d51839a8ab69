// Text the action did not write itself (file names, model names, server messages, error texts, pull request
// content) is data. These functions make it safe for the places it goes: a log line the runner reads for
// workflow commands, and the HTML/Markdown of the job summary and the pull-request comment. Vendor-free and
// GitHub-free: they know the shapes that are dangerous, not who prints them.

// C0 and C1 controls (ESC starts ANSI sequences), DEL, the Unicode line and paragraph separators, and the
// bidirectional overrides that make text read differently from what it is.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** Every control character shown escaped (`\n`, `\r`, `\t`, `\x1b`, `\u202e`): one line, no terminal codes. */
export function escapeControls(text: string): string {
  return text.replace(CONTROL, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * A log line that cannot be read as a workflow command: one line, controls escaped, and it never starts
 * (after the whitespace the runner trims) with `::`, nor carries the older `##[` command form anywhere.
 * The one neutralising function for everything the action prints.
 */
export function safeLine(text: string): string {
  return escapeControls(text)
    .replace(/##\[/g, '#\\x23[')
    .replace(/^(\s*):/, '$1\\x3a');
}

/**
 * Untrusted text as a property of a workflow command (an annotation's `file`): controls escaped and no `##[`
 * anywhere. The printer escapes `%`, CR, LF, `:` and `,` for the command's format; a property sits on the same
 * line as the command, which the runner also scans for the older `##[` form.
 */
export function safeProperty(text: string): string {
  return escapeControls(text).replace(/##\[/g, '#\\x23[');
}

/**
 * Untrusted text inside the summary's or the comment's HTML: one line (a blank line would end the HTML block
 * and let Markdown in), HTML-escaped, and the characters Markdown builds links, images, tables, headings and
 * code from written as entities, so it renders as the text it is (`_` and `-`, common in names and harmless
 * inside one HTML line, stay as they are). `@name`, `#123` and `https://` are broken with a word joiner (U+2060), which
 * GitHub does not read as a mention, an issue reference or a link.
 */
export function markdownText(text: string): string {
  return escapeControls(text)
    .replace(/[&<>"'`*[\]()!|~\\{}#@:]/g, (c) => `&#${c.charCodeAt(0)};`)
    .replace(/&#64;/g, '&#64;\u2060')
    .replace(/&#35;/g, '&#35;\u2060')
    .replace(/&#58;\/\//g, '&#58;\u2060//')
    .replace(/www\./gi, (m) => `${m.slice(0, 3)}\u2060.`);
}

/** An http(s) URL a summary may link to; anything else (javascript:, data:, relative) is not linked. */
export function linkableUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : undefined;
  } catch {
    return undefined;
  }
}
