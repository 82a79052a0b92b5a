import { forLog } from '../../src/lib/logText';
import { forConsole } from '../../devhost/src/log';

// A terminate reason as an attacker would send it: a forged host line, then an OSC sequence that
// retitles the operator's terminal.
const forged = 'x\n[Functions.startAgentRun] Started agent run FORGED\u001b]0;OWNED\u0007';

describe('forLog: text from users and models as one printable log line', () => {
  it('escapes line breaks and escape sequences, so the text forges no line and drives no terminal', () => {
    const line = forLog(forged);
    expect(line).toBe('x\\n[Functions.startAgentRun] Started agent run FORGED\\x1b]0;OWNED\\x07');
    expect(line).not.toMatch(/[\p{Cc}]/u);
  });

  it('escapes carriage returns, C1 controls, bidi overrides and zero-width characters', () => {
    expect(forLog('a\rb\u009bc\u202ed\u200be\u2028f')).toBe('a\\rb\\x9bc\\u{202e}d\\u{200b}e\\u{2028}f');
  });

  it('keeps ordinary text, accents and emoji as they are, and bounds the length', () => {
    expect(forLog('Grüße 👋 done')).toBe('Grüße 👋 done');
    expect(forLog('a'.repeat(600), 500)).toBe(`${'a'.repeat(500)}...`);
  });
});

describe("forConsole: the devhost's console output", () => {
  it('never lets a logged line break start a line that looks like a record of its own', () => {
    const printed = forConsole(`[Functions.runCancel] Run r1 cancelled: ${forged}`);
    const lines = printed.split('\n');
    expect(lines[0]).toBe('[Functions.runCancel] Run r1 cancelled: x');
    expect(lines[1]).toBe('  | [Functions.startAgentRun] Started agent run FORGED\\x1b]0;OWNED\\x07');
    expect(lines.filter((l) => l.startsWith('[Functions.startAgentRun]'))).toEqual([]);
    expect(printed).not.toMatch(/(?!\n)\p{Cc}/u);
  });

  it('keeps a stack readable, one frame a line, and escapes a lone carriage return', () => {
    expect(forConsole('Error: boom\n    at f (a.js:1:1)')).toBe('Error: boom\n  |     at f (a.js:1:1)');
    expect(forConsole('done\rFAKE')).toBe('done\\rFAKE');
    expect(forConsole('a\r\nb')).toBe('a\n  | b');
  });
});
