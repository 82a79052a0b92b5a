import { roundTo } from './arithmetic';
import { sentencesOf } from './intents';
import { precisionIn } from './wordProblems';

/**
 * A revision of a draft after a reviewer's comment. The emulator carries out the instructions it can,
 * always on whole sentences, bullets or sections (it shortens by dropping sentences, never by cutting
 * one; it removes the sentences or the section about what the reviewer names), says plainly which
 * instructions it could not carry out and why, and never claims a change it did not make.
 */

/**
 * A draft as blocks separated by blank lines; a block is an optional heading ("...found:") and its
 * units, the sentences of its lines. A line is a paragraph or a "- " bullet; its first sentence says
 * what the line is about, and the sentences after it add to it.
 */
interface Block {
  heading?: string;
  units: Unit[];
}

interface Unit {
  text: string;
  /** The line of the block the sentence is on (a paragraph or a bullet). */
  line: number;
  bullet: boolean;
  /** The first sentence of its line. */
  lead: boolean;
}

function parse(draft: string): Block[] {
  const blocks: Block[] = [];
  for (const chunk of draft.trim().split(/\n\s*\n/)) {
    const block: Block = { units: [] };
    chunk.split('\n').forEach((raw, line) => {
      const text = raw.trim();
      if (text === '') return;
      const bullet = /^[-*•]\s+/.test(text);
      if (!bullet && /:$/.test(text) && block.units.length === 0 && !block.heading) {
        block.heading = text;
        return;
      }
      sentencesOf(text.replace(/^[-*•]\s+/, '')).forEach((sentence, i) =>
        block.units.push({ text: sentence, line, bullet, lead: i === 0 }),
      );
    });
    if (block.heading || block.units.length > 0) blocks.push(block);
  }
  return blocks;
}

function render(blocks: readonly Block[]): string {
  return blocks
    .filter((b) => b.units.length > 0)
    .map((block) => {
      const lines: string[] = block.heading ? [block.heading] : [];
      let line = -1;
      for (const unit of block.units) {
        if (unit.line === line) lines[lines.length - 1] += ` ${unit.text}`;
        else lines.push(`${unit.bullet ? '- ' : ''}${unit.text}`);
        line = unit.line;
      }
      return lines.join('\n');
    })
    .join('\n\n')
    .trim();
}

const words = (text: string) => (text.match(/\S+/g) ?? []).length;
const wordCount = (blocks: readonly Block[]) =>
  blocks.reduce((n, b) => n + words(b.heading ?? '') + b.units.reduce((m, u) => m + words(u.text), 0), 0);

interface Edit {
  draft: string;
  /** Why it could not be done, when it could not. */
  refused?: string;
}

const done = (draft: string): Edit => ({ draft });
const refuse = (draft: string, why: string): Edit => ({ draft, refused: why });

export function revise(draft: string, comment: string): string {
  let text = draft.trim();
  const notDone: string[] = [];
  for (const instruction of instructionsOf(comment)) {
    const edit = apply(text, instruction);
    if (edit.refused === undefined) text = edit.draft;
    else notDone.push(`"${instruction}" (${edit.refused})`);
  }
  if (notDone.length > 0) {
    text +=
      `\n\nThe offline emulator could not carry out ${notDone.length === 1 ? 'this part' : 'these parts'} of the ` +
      `reviewer's comment: ${notDone.join('; ')}. It can shorten the answer by whole sentences, remove the ` +
      'sentences or the section about something, add a point or a summary line, round its numbers, and turn ' +
      'sentences into a list.';
  }
  return text;
}

const verbs =
  'add|remove|drop|delete|omit|cut|shorten|make|include|mention|summari[sz]e|keep|leave out|take out|translate|rewrite|rephrase|change|use|write|explain|expand|format|fix|turn|put|replace|move|sort|list|cite|say|give|answer|simplify|reorder|correct|update|split|merge|round|get rid of|lose|skip';

/** "Add a one-line summary and remove the part about costs." -> two instructions. */
function instructionsOf(comment: string): string[] {
  return sentencesOf(comment.replace(/[ \t]+/g, ' '))
    .flatMap((sentence) =>
      sentence.split(
        new RegExp(
          `;\\s*|,?\\s+(?:and|then|also|but)\\s+(?=(?:please\\s+)?(?:${verbs})\\b)|,\\s+(?=(?:please\\s+)?(?:${verbs})\\b)`,
          'i',
        ),
      ),
    )
    .map((s) =>
      s
        .trim()
        .replace(/[.;!]+$/, '')
        .replace(/^(?:please|kindly|can you|could you|would you|also|and|then)\s+/i, '')
        .replace(/^(?:please|kindly)\s+/i, ''),
    )
    .filter(
      (s) => s !== '' && !/^(?:please|thanks|thank you|ok|okay|also|great|good|nice|looks good)$/i.test(s),
    );
}

function apply(draft: string, instruction: string): Edit {
  const lower = instruction.toLowerCase();
  if (
    /\b(?:translate|in (?:french|german|spanish|italian|dutch|japanese|chinese|portuguese))\b/.test(lower)
  ) {
    return refuse(draft, 'it cannot translate offline');
  }
  if (
    /\b(?:formal|informal|friendl(?:y|ier)|tone|polite|casual|professional|rephrase|rewrite|reword|simpler words|plain english)\b/.test(
      lower,
    )
  ) {
    return refuse(draft, 'it cannot rewrite the wording or tone of its sentences');
  }
  if (
    /\b(summary|summari[sz]e|tl;?dr|sum (?:it )?up)\b/.test(lower) &&
    !/\bremove|drop|delete\b/.test(lower)
  ) {
    return addSummary(draft);
  }
  if (
    /\b(?:bullet(?:s| points?)?|as a list|into a list|list form|numbered list)\b/.test(lower) &&
    !/\b(?:remove|drop|delete)\b/.test(lower)
  ) {
    return asBullets(draft);
  }
  const { precision } = precisionIn(instruction);
  if (precision && /\b(?:round|decimal|places|cents?|significant|nearest|whole)\b/.test(lower)) {
    return roundNumbers(draft, precision.decimals, precision.significant, precision.words);
  }
  const limit =
    /\b(?:in|to|at most|under|no more than|within|max(?:imum)?(?: of)?)\s+(one|two|three|four|five|\d+)\s+(sentences?|lines?|words?|bullets?|points?)\b/.exec(
      lower,
    );
  if (
    limit?.[1] &&
    limit[2] &&
    /\b(?:shorten|shorter|short|cut|keep|make|limit|reduce|condense|trim|only|summari[sz]e|at most|under|no more than|within)\b/.test(
      lower,
    )
  ) {
    return shortenTo(draft, numberOf(limit[1]), /^word/.test(limit[2]) ? 'words' : 'sentences');
  }
  if (/\b(?:one[- ](?:sentence|liner)|single sentence)\b/.test(lower))
    return shortenTo(draft, 1, 'sentences');
  if (
    /\b(shorten|shorter|more concise|concise|too long|briefer|brief|condense|cut it down|trim it|tighten|less wordy|fewer words)\b/.test(
      lower,
    )
  ) {
    return shortenDraft(draft);
  }
  if (
    /\b(?:longer|expand|elaborate|more detail|more details|more depth|go deeper|examples?|flesh out)\b/.test(
      lower,
    ) &&
    !/\b(?:remove|drop|delete)\b/.test(lower)
  ) {
    return refuse(draft, 'it has no world knowledge to add detail from');
  }
  const remove =
    /\b(?:remove|drop|delete|omit|leave out|take out|cut|get rid of|lose|skip)\s+(?:all\s+)?(?:the\s+)?(?:(?:part|parts|section|sections|bit|bits|line|lines|paragraph|paragraphs|sentence|sentences|bullet|bullets|point|points|mention|mentions|stuff|text|thing|things)\s+)?(?:(?:that\s+(?:is|are|talks?|speaks?)\s+)?(?:about|on|regarding|of|with|that mentions?|mentioning|concerning|covering|related to|referring to)\s+)?(.+)$/i.exec(
      instruction,
    );
  if (remove?.[1]) return removePart(draft, remove[1]);
  if (
    /\b(?:add|include|cite)\s+(?:more\s+|some\s+|a\s+|an\s+|another\s+)?(?:sources?|citations?|references?|links?)\b/.test(
      lower,
    )
  ) {
    return refuse(draft, 'it does not invent sources; only the research subtasks find them');
  }
  const add =
    /\b(?:add|include|mention|also say|also note|note|say|state|point out)\s+(?:that\s+)?(?:(?:a|an|one more|another)\s+)?(?:(?:point|line|note|sentence|bullet|section|paragraph|word)\s+)?(about|on|regarding|that|saying)?\s*(.+)$/i.exec(
      instruction,
    );
  if (add?.[2]) return addPoint(draft, add[2], add[1]?.toLowerCase());
  return refuse(draft, 'it does not know how to do this offline');
}

function numberOf(word: string): number {
  const words: Record<string, number> = { one: 1, two: 2, three: 3, four: 4, five: 5 };
  return words[word] ?? Number(word);
}

/** A one-line summary at the top: the draft's first statement, whole. */
function addSummary(draft: string): Edit {
  const first = parse(draft)
    .flatMap((b) => b.units)
    .map((u) => u.text.replace(/\s*\[\d+\]/g, '').trim())
    .find((t) => t !== '' && !/^(?:you asked|summary):/i.test(t));
  const fallback = parse(draft)
    .flatMap((b) => b.units)
    .map((u) => u.text.replace(/\s*\[\d+\]/g, '').trim())
    .find((t) => t !== '');
  const line = first ?? fallback;
  if (!line) return refuse(draft, 'the draft has no statement to sum up');
  return done(`Summary: ${/[.?!]$/.test(line) ? line : `${line}.`}\n\n${draft}`);
}

/** How much a unit is worth keeping: results and citations first, then the order of the draft. */
function weight(unit: Unit): number {
  let score = 0;
  if (/\s=\s|\$\d|\d%|: -?[$€£]?\d/.test(unit.text)) score += 2;
  if (/\[\d+\]/.test(unit.text)) score += 1;
  if (/^(?:step by step|earlier in this conversation|it read the)\b/i.test(unit.text)) score -= 2;
  return score;
}

/**
 * About a third shorter, by dropping whole sentences: first the sentences that only add to a line
 * (a calculation's steps, an explanation after a statement), least useful and latest first; then whole
 * bullets after the first of a list. The first sentence of each paragraph answers a part of the request
 * and stays, so a shorter answer still covers every part.
 */
function shortenDraft(draft: string): Edit {
  const blocks = parse(draft);
  const units = blocks.flatMap((b) => b.units);
  if (units.length <= 1) {
    return refuse(
      draft,
      'the draft is a single sentence, and the emulator shortens only by dropping whole sentences',
    );
  }
  const target = Math.ceil(wordCount(blocks) * 0.67);
  const dropped = new Set<Unit>();
  const order = (list: Unit[]) =>
    list.sort((x, y) => weight(x) - weight(y) || units.indexOf(y) - units.indexOf(x));
  for (const unit of order(units.filter((u) => !u.lead))) {
    if (wordCount(keep(blocks, dropped)) <= target) break;
    dropped.add(unit);
  }
  for (const block of [...blocks].reverse()) {
    const bullets = block.units.filter((u) => u.bullet && u.lead);
    for (const bullet of bullets.slice(1).reverse()) {
      if (wordCount(keep(blocks, dropped)) <= target) break;
      for (const u of block.units) if (u.line === bullet.line) dropped.add(u);
    }
  }
  if (dropped.size === 0) {
    return refuse(draft, 'each sentence left answers a part of the request');
  }
  return done(render(keep(blocks, dropped)));
}

function keep(blocks: readonly Block[], dropped: ReadonlySet<Unit>): Block[] {
  return blocks
    .map((block) => ({ ...block, units: block.units.filter((u) => !dropped.has(u)) }))
    .filter((block) => block.units.length > 0);
}

/** "In one sentence", "under 40 words": the first sentences that fit, never part of one. */
function shortenTo(draft: string, limit: number, unit: 'sentences' | 'words'): Edit {
  const blocks = parse(draft);
  const units = blocks.flatMap((b) => b.units);
  const kept = new Set<Unit>();
  let total = 0;
  const ranked = [...units].sort((x, y) => weight(y) - weight(x) || units.indexOf(x) - units.indexOf(y));
  for (const candidate of ranked) {
    const cost = unit === 'sentences' ? 1 : words(candidate.text);
    if (total + cost > limit) continue;
    kept.add(candidate);
    total += cost;
  }
  if (kept.size === 0) {
    const first = units[0]?.text ?? '';
    return refuse(
      draft,
      `its first sentence alone has ${words(first)} words, and the emulator will not cut a sentence`,
    );
  }
  if (kept.size === units.length) return done(draft);
  const dropped = new Set(units.filter((u) => !kept.has(u)));
  // Headings go with their items; what stays reads as one short answer.
  const result = keep(blocks, dropped).map((b) => ({ units: b.units }));
  return done(render(result));
}

/** Words of a target, with a few stems, for matching sentences about it. */
function targetWords(target: string): string[] {
  const stop = new Set([
    'the',
    'part',
    'parts',
    'about',
    'that',
    'this',
    'with',
    'and',
    'all',
    'any',
    'its',
    'their',
    'from',
    'where',
    'which',
    'mentions',
    'talks',
    'bit',
  ]);
  return (target.toLowerCase().match(/[a-z0-9]{3,}/g) ?? []).filter((w) => !stop.has(w)).map(stem);
}

function stem(word: string): string {
  return word.replace(/(?:ies|es|s|ing|ed)$/, '').slice(0, 7);
}

/** Names of kinds of content, matched by what such content looks like rather than by its words. */
const contentKinds: [RegExp, (text: string) => boolean][] = [
  [
    /^(?:the\s+)?(?:calculations?|arithmetic|maths?|numbers|sums|computations?|results?)$/i,
    (t) => /\s=\s|→|\d\s*[-+*/^]\s*\d|:\s*-?[$€£]?\d[\d,.]*%?(?: each)?\.?$/.test(t),
  ],
  [/^(?:the\s+)?(?:time|date|clock|current time)$/i, (t) => /\bcurrent time\b|\btime tool\b|\(UTC\)/.test(t)],
  [
    /^(?:the\s+)?(?:disclaimer|caveat|emulator note|note about the emulator|world knowledge|offline note)$/i,
    (t) => /offline emulator|world knowledge|with Azure OpenAI settings/i.test(t),
  ],
  [/^(?:the\s+)?(?:summary|summary line|tl;?dr)$/i, (t) => /^Summary:/.test(t)],
];

/** The sections, bullets and sentences that speak of the target go; when none does, it says so. */
function removePart(draft: string, rawTarget: string): Edit {
  const target = rawTarget.trim().replace(/[.!]+$/, '');
  if (/^(?:the\s+)?(?:sources|citations|references|links|citation markers|footnotes)\b/i.test(target)) {
    const without = draft.replace(/\s*\[\d+\]/g, '');
    return without === draft ? refuse(draft, 'the draft cites no sources') : done(without);
  }
  const blocks = parse(draft);
  const position =
    /^(?:the\s+)?(first|last|second|final)\s+(sentence|line|bullet|point|paragraph|section)$/i.exec(target);
  if (position?.[1] && position[2])
    return removeAt(blocks, draft, position[1].toLowerCase(), position[2].toLowerCase());

  const kind = contentKinds.find(([name]) => name.test(target));
  const wanted = targetWords(target);
  if (!kind && wanted.length === 0) return refuse(draft, `it cannot tell what "${target}" refers to`);
  const about = (text: string) => {
    if (kind) return kind[1](text);
    const found = (text.toLowerCase().match(/[a-z0-9]{3,}/g) ?? []).map(stem);
    return wanted.every((w) => found.some((f) => f === w || (w.length >= 5 && f.startsWith(w))));
  };
  // A section whose heading is about the target goes whole; otherwise the units about it.
  let removed = 0;
  const kept: Block[] = [];
  for (const block of blocks) {
    if (block.heading && about(block.heading)) {
      removed += block.units.length + 1;
      continue;
    }
    const units = block.units.filter((u) => !about(u.text));
    removed += block.units.length - units.length;
    // A heading left with nothing under it goes too.
    if (units.length > 0) kept.push({ ...block, units });
  }
  if (removed === 0) return refuse(draft, `nothing in the draft is about ${target}`);
  if (kept.length === 0)
    return refuse(draft, `everything in the draft is about ${target}, so nothing would be left`);
  return done(render(kept));
}

function removeAt(blocks: Block[], draft: string, which: string, what: string): Edit {
  const pick = <T>(list: readonly T[]): T | undefined =>
    which === 'first' ? list[0] : which === 'second' ? list[1] : list.at(-1);
  if (what === 'paragraph' || what === 'section') {
    if (blocks.length < 2) return refuse(draft, `the draft has only one ${what}`);
    const block = pick(blocks);
    return done(render(blocks.filter((b) => b !== block)));
  }
  const units = blocks.flatMap((b) => b.units);
  if (units.length < 2) return refuse(draft, 'the draft is a single sentence');
  if (what === 'sentence')
    return done(render(keep(blocks, new Set([pick(units)].filter((u) => u !== undefined)))));
  // A line or a bullet goes with all its sentences.
  const lines = blocks.flatMap((block) =>
    [...new Set(block.units.filter((u) => what === 'line' || u.bullet).map((u) => u.line))].map((line) =>
      block.units.filter((u) => u.line === line),
    ),
  );
  const line = pick(lines);
  if (!line) return refuse(draft, `the draft has no ${what}s`);
  return done(render(keep(blocks, new Set(line))));
}

/** A point the reviewer stated goes in as written; a point only named gets an honest placeholder. */
function addPoint(draft: string, point: string, how: string | undefined): Edit {
  const text = point.trim().replace(/[.!]+$/, '');
  if (text === '') return refuse(draft, 'it names nothing to add');
  const capital = text.charAt(0).toUpperCase() + text.slice(1);
  const bullet =
    how === 'about' || how === 'on' || how === 'regarding'
      ? `- ${capital}: the reviewer asked for this point; the offline emulator has no world knowledge to add about it.`
      : `- ${capital}.`;
  return done(`${draft}\n${bullet}`);
}

/** Each paragraph line as a bullet; headings and existing bullets stay. */
function asBullets(draft: string): Edit {
  const blocks = parse(draft);
  if (!blocks.some((b) => b.units.some((u) => !u.bullet))) return refuse(draft, 'it is a list already');
  return done(render(blocks.map((b) => ({ ...b, units: b.units.map((u) => ({ ...u, bullet: true })) }))));
}

/** The results in the draft ("= 3.14285714285714", "$5.34") shown to the precision asked. */
function roundNumbers(
  draft: string,
  decimals: number | undefined,
  significant: number | undefined,
  words: string,
): Edit {
  let changed = false;
  const round = (raw: string): string => {
    const value = Number(raw);
    if (!Number.isFinite(value)) return raw;
    let text = raw;
    if (significant !== undefined) text = String(Number(value.toPrecision(significant)));
    else if (decimals !== undefined) text = roundTo(value, decimals).toFixed(decimals);
    if (text !== raw) changed = true;
    return text;
  };
  // Only numbers that are results: after "=", "is", a currency sign or an arrow; never inside expressions.
  const revised = draft.replace(
    /((?:=|→|:|\bis)\s*-?[$€£]?)(\d+(?:\.\d+)?)(?![\d.]*\s*[-+*/^]\s*[\d(])/g,
    (_all, lead: string, n: string) => `${lead}${round(n)}`,
  );
  if (!changed) return refuse(draft, `no result in the draft has more digits than ${words} allows`);
  return done(revised);
}
