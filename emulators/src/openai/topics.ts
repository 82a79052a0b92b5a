/**
 * Short names for what a request is about: a research subject ("serverless platforms", "discoveries by
 * the James Webb Space Telescope") and titles cut to a length. A name is cut at a word, and never ends
 * on a word that needs another after it ("and", "of", "the"), so it reads as a noun phrase.
 */

/** Words a phrase cannot end on. */
const dangling = new Set([
  'a',
  'an',
  'and',
  'or',
  'but',
  'nor',
  'of',
  'the',
  'for',
  'with',
  'without',
  'in',
  'on',
  'to',
  'about',
  'from',
  'by',
  'at',
  'as',
  'into',
  'onto',
  'its',
  'their',
  'our',
  'my',
  'your',
  'his',
  'her',
  'that',
  'which',
  'who',
  'whose',
  'vs',
  'versus',
  'than',
  'between',
  'among',
  'across',
  'over',
  'under',
  'via',
  'per',
  'is',
  'are',
  'was',
  'were',
  'be',
  'this',
  'these',
  'those',
  'such',
  'some',
  'any',
  'each',
  'every',
  'both',
  'more',
  'most',
  'how',
  'what',
  'why',
  'when',
  'where',
]);

/** The phrase without the words at its end that would leave it hanging, and without end punctuation. */
export function withoutDanglingEnd(phrase: string): string {
  const words = phrase
    .trim()
    .replace(/(?:\.\.\.|…)$/, '')
    .replace(/[\s,;:.!?'"-]+$/, '')
    .split(/\s+/);
  while (words.length > 1 && dangling.has((words.at(-1) ?? '').toLowerCase().replace(/[^a-z]/g, ''))) {
    words.pop();
  }
  return words
    .join(' ')
    .replace(/[\s,;:.!?'"-]+$/, '')
    .trim();
}

/** At most `max` characters, cut between words, not ending on a dangling word, "..." when cut. */
export function clipPhrase(text: string, max: number): string {
  const clean = text.replace(/\s+/g, ' ').trim();
  if (clean.length <= max) return clean;
  const room = clean.slice(0, max - 3);
  const space = room.lastIndexOf(' ');
  const cut = withoutDanglingEnd(space > 0 ? room.slice(0, space) : room);
  return `${cut}...`;
}

const askVerbs =
  /^(?:(?:please|can you|could you|would you|i'd like you to|i want you to|help me)\s+)*(?:research|find(?:\s+out)?(?:\s+about)?|search(?:\s+the\s+web)?(?:\s+for)?|look\s+(?:up|into)|read\s+up\s+on|dig\s+into|investigate|check(?:\s+on)?|get(?:\s+me)?|give\s+me(?:\s+an?\s+(?:overview|summary|rundown)\s+of)?|tell\s+me(?:\s+about)?|summari[sz]e|explain|describe|report\s+on|cover|gather(?:\s+sources\s+on)?|cite\s+sources\s+(?:on|for|about)|what(?:'s|\s+is|\s+are)(?:\s+there)?|who(?:'s|\s+is|\s+are)|list)\s+/i;
const newsWords =
  /^(?:the\s+)?(?:very\s+)?(?:latest|recent|current|newest|up[- ]to[- ]date|last\s+(?:week|month|year)'?s?)\s+(?:news|information|info|updates?|developments?|changes|releases?|announcements?|coverage|state|status|trends?|findings|sources|articles|reports?)\s+(?:about|on|for|in|to|of|from|regarding|around)\s+/i;
const freshWords = /^(?:the\s+)?(?:very\s+)?(?:latest|recent|newest|current|up[- ]to[- ]date)\s+(?=\w)/i;
/** "what Azure Blob Storage is for", "how durable timers work": the subject of an indirect question. */
const indirect =
  /^(?:what|how|why|where|when|whether|if)\s+(.+?)\s+(?:is|are|was|were|does|do|did|can|could|will|would|works?|worked|compares?|changed|matters?|stands?)\b.*$/i;
/** Where a second thought starts: the subject ends before it. */
const clauseEnd =
  /\s*[,;:(]|\s+[-–—]\s+|\s+(?:and|or|but|then)\s+(?=(?:what|how|why|when|where|who|which|whether|compare|contrast|explain|tell|list|summari[sz]e|recommend|give|describe|then|also|see|find|check|decide|say|write|suggest|evaluate|assess|rank|pick|choose|note|include|cite|it|they|them|its|their)\b)|\s+(?:so that|in order to|to (?:see|find|understand|decide|help|learn|know|check|compare)|for (?:me|us|our|my)\b|because|since|which|who|that (?:is|are|was|were|will|would|can|could|has|have)\b)|\s+(?:this|last|next)\s+(?:week|month|year|quarter)\b|\s+(?:today|right now|these days|lately|recently|nowadays|so far)\b/i;

const generic = /^(?:research|answer|summari[sz]e)\s+(?:the\s+)?(?:request|question|prompt|task)\.?$/i;

/**
 * The subject of a research request, as a noun phrase of at most about ten words: "Research the latest
 * news on serverless platforms and compare them with containers" gives "serverless platforms". The
 * query may hold a title and then instructions (a subtask's): a generic or cut title names no subject,
 * so the line after it is read.
 */
export function topicOf(query: string): string {
  const lines = query
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !generic.test(l));
  const whole = lines.find((l) => !/(?:\.\.\.|…)$/.test(l)) ?? lines[0] ?? '';
  const sentences = whole.split(/(?<=[.?!])\s+(?=[A-Z"'(])/);
  const sentence =
    sentences.find((s) =>
      /\b(?:research|search|sources?|latest|news|recent|look (?:up|into)|find out|cite)\b/i.test(s),
    ) ??
    sentences.find((s) => /\?\s*$/.test(s)) ??
    sentences.at(-1) ??
    whole;

  let topic = sentence
    .replace(/^(?:[-*•]|\d{1,2}[.)])\s+/, '')
    .replace(/^(?:[A-Z][a-z]+(?:\s+[a-z]+)?):\s+/, '')
    .replace(/^(?:(?:and|then|also|next|finally|now|so)[,:]?\s+)+/i, '')
    .replace(/[?!.]+$/, '')
    .trim();
  for (let before = ''; before !== topic;) {
    before = topic;
    topic = topic.replace(askVerbs, '').replace(newsWords, '').replace(freshWords, '').trim();
  }
  const subject = indirect.exec(topic)?.[1];
  if (subject && subject.split(/\s+/).length <= 10) topic = subject;
  const end = topic.search(clauseEnd);
  if (end > 0) topic = topic.slice(0, end);
  topic = topic
    .replace(/\([^)]*\)/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const words = topic.split(' ');
  if (words.length > 10) topic = words.slice(0, 10).join(' ');
  topic = withoutDanglingEnd(topic)
    .replace(/^(?:about|on|regarding|for)\s+/i, '')
    .replace(/^["'“]|["'”]$/g, '')
    .trim();
  return topic === '' ? 'the question' : topic;
}
