/**
 * A revision of a draft after a reviewer's comment. The emulator carries out the instructions it can
 * (add a summary line, shorten, add a point, remove a part), says which ones it could not, and never
 * claims a change it did not make.
 */

interface Edit {
  draft: string;
  done: boolean;
}

export function revise(draft: string, comment: string): string {
  let text = draft.trim();
  const notDone: string[] = [];
  for (const instruction of instructionsOf(comment)) {
    const edit = apply(text, instruction);
    if (edit.done) text = edit.draft;
    else notDone.push(instruction);
  }
  if (notDone.length > 0) {
    const list = notDone.map((n) => `"${n}"`).join(', ');
    text +=
      `\n\nThe offline emulator could not carry out ${notDone.length === 1 ? 'this part' : 'these parts'} of the ` +
      `reviewer's comment: ${list}. It can add a summary line, shorten the answer, add a point or remove a part.`;
  }
  return text;
}

/** "Add a one-line summary and remove the part about costs." -> two instructions. */
function instructionsOf(comment: string): string[] {
  return comment
    .replace(/\s+/g, ' ')
    .split(
      /(?<=[.;!])\s+|;\s*|,?\s+(?:and|then|also)\s+(?=(?:please\s+)?(?:add|remove|drop|delete|omit|cut|shorten|make|include|mention|summari[sz]e|keep|leave out|take out|translate|rewrite|rephrase|change|use|write|explain|expand|format|fix|turn|put|replace|move|sort|list|cite|say|give|answer|simplify|reorder|correct|update|split|merge)\b)/i,
    )
    .map((s) =>
      s
        .trim()
        .replace(/[.;!]+$/, '')
        .replace(/^(?:please|kindly|can you|could you|would you)\s+/i, ''),
    )
    .filter((s) => s !== '' && !/^(?:please|thanks|thank you|ok|okay|also)$/i.test(s));
}

function apply(draft: string, instruction: string): Edit {
  const lower = instruction.toLowerCase();
  if (/\b(summary|summari[sz]e|tl;?dr|sum (?:it )?up)\b/.test(lower)) return addSummary(draft);
  if (/\b(shorten|shorter|more concise|too long|briefer|condense|cut it down|trim it)\b/.test(lower))
    return shortenDraft(draft);
  const remove =
    /\b(?:remove|drop|delete|omit|leave out|take out|cut)\s+(?:the\s+)?(?:(?:part|section|bit|line|paragraph|sentence|bullet|point|mention)s?\s+)?(?:about|on|regarding|of|with|that mentions|mentioning)?\s*(.+)$/i.exec(
      instruction,
    );
  if (remove?.[1]) return removePart(draft, remove[1]);
  const add =
    /\b(?:add|include|mention|also say|also note|note|say)\s+(?:that\s+)?(?:(?:a|an|one more|another)\s+)?(?:(?:point|line|note|sentence|bullet|section|paragraph)\s+)?(about|on|regarding|that|saying)?\s*(.+)$/i.exec(
      instruction,
    );
  if (add?.[2]) return addPoint(draft, add[2], add[1]?.toLowerCase());
  return { draft, done: false };
}

/** A one-line summary at the top, from the draft's own first statements. */
function addSummary(draft: string): Edit {
  const statements = draft
    .split('\n')
    .map((l) =>
      l
        .replace(/^\s*[-*]\s*/, '')
        .replace(/\s*\[\d+\]/g, '')
        .trim(),
    )
    .filter((l) => l !== '' && !/:$/.test(l));
  const first = (statements[0] ?? '').split(/(?<=[.?!])\s+/)[0] ?? '';
  if (first === '') return { draft, done: false };
  const line = first.length > 200 ? `${first.slice(0, 197).trimEnd()}...` : first;
  return { draft: `Summary: ${/[.?!]$/.test(line) ? line : `${line}.`}\n\n${draft}`, done: true };
}

/** About half as long: the first lines, or the first sentences of a single paragraph. */
function shortenDraft(draft: string): Edit {
  const lines = draft.split('\n').filter((l) => l.trim() !== '');
  if (lines.length > 1) {
    const kept = lines.slice(0, Math.max(1, Math.ceil(lines.length / 2)));
    // A line that introduces a list ("...found:") keeps at least one item under it.
    while (kept.length < lines.length && /:\s*$/.test(kept.at(-1) ?? '')) kept.push(lines[kept.length] ?? '');
    return { draft: kept.join('\n'), done: true };
  }
  const sentences = draft.split(/(?<=[.?!]["')]?)\s+/);
  if (sentences.length > 1) {
    return { draft: sentences.slice(0, Math.ceil(sentences.length / 2)).join(' '), done: true };
  }
  return { draft, done: false };
}

/** The lines that speak of the target go; when none does, nothing changes and the revision says so. */
function removePart(draft: string, target: string): Edit {
  if (/^(?:the\s+)?(?:sources|citations|references|links)\b/i.test(target)) {
    const without = draft.replace(/\s*\[\d+\]/g, '');
    return { draft: without, done: without !== draft };
  }
  const words = (target.toLowerCase().match(/[a-z0-9]{3,}/g) ?? []).filter(
    (w) => !['the', 'part', 'about', 'that', 'this', 'with', 'and'].includes(w),
  );
  if (words.length === 0) return { draft, done: false };
  const lines = draft.split('\n');
  const kept = lines.filter((line) => !words.every((w) => line.toLowerCase().includes(w)));
  if (kept.length === lines.length || kept.every((l) => l.trim() === '')) return { draft, done: false };
  return {
    draft: kept
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trim(),
    done: true,
  };
}

/** A point the reviewer stated goes in as written; a point only named gets an honest placeholder. */
function addPoint(draft: string, point: string, how: string | undefined): Edit {
  const text = point.trim().replace(/[.!]+$/, '');
  if (text === '') return { draft, done: false };
  const capital = text.charAt(0).toUpperCase() + text.slice(1);
  const bullet =
    how === 'about' || how === 'on' || how === 'regarding'
      ? `- ${capital}: the reviewer asked for this point; the offline emulator has no world knowledge to add about it.`
      : `- ${capital}.`;
  return { draft: `${draft}\n${bullet}`, done: true };
}
