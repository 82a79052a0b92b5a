/**
 * Text from users, models and remote services, made fit for one log line. A log line is read on a
 * console (the devhost's, `func start`'s, Azure's log stream): a line break in such text would start
 * a line that looks like the host's own (`[Functions.startAgentRun] Started agent run ...`), and an
 * escape sequence (`ESC ] 0 ; ... BEL`) would retitle or repaint the operator's terminal. So every
 * control character, line or paragraph separator and invisible formatting character (bidi overrides,
 * zero-width characters) is written as an escape (`\n`, `\x1b`, `\u202e`), and the text is bounded.
 * Pure: orchestrators use it too.
 */

const unprintable = /[\p{Cc}\p{Zl}\p{Zp}\p{Cf}]/gu;

const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `text` as one printable line of at most `maxChars` characters (then `...`). */
export function forLog(text: string, maxChars = 500): string {
  const cut = text.length > maxChars ? `${text.slice(0, maxChars)}...` : text;
  return cut.replace(unprintable, (c) => {
    const code = c.codePointAt(0) ?? 0;
    return (
      named[c] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`)
    );
  });
}
