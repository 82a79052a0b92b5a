import { createHash } from 'node:crypto';
import { topicOf } from '../openai/topics';

/**
 * The grounded answer a Bing-grounded agent gives: a few sentences about the question, each ending in a
 * citation marker 【3:n†source】 with a url_citation annotation, as the Agent Service returns them.
 * Deterministic: the same question cites the same plausible example URLs.
 */

export interface UrlCitation {
  type: 'url_citation';
  text: string;
  start_index: number;
  end_index: number;
  url_citation: { url: string; title: string };
}

export interface GroundedAnswer {
  text: string;
  annotations: UrlCitation[];
}

const learnPages: { pattern: RegExp; path: string; title: string }[] = [
  {
    pattern: /durable/i,
    path: 'azure/azure-functions/durable/durable-functions-overview',
    title: 'What are Durable Functions? - Azure | Microsoft Learn',
  },
  {
    pattern: /\bfunctions?\b/i,
    path: 'azure/azure-functions/functions-overview',
    title: 'Azure Functions overview | Microsoft Learn',
  },
  {
    pattern: /foundry|agent service|\bagents?\b/i,
    path: 'azure/ai-foundry/agents/overview',
    title: 'What is Azure AI Foundry Agent Service? | Microsoft Learn',
  },
  {
    pattern: /openai|gpt|\bllm|language model/i,
    path: 'azure/ai-foundry/openai/overview',
    title: 'What is Azure OpenAI in Azure AI Foundry Models? | Microsoft Learn',
  },
  {
    pattern: /storage|blob/i,
    path: 'azure/storage/blobs/storage-blobs-introduction',
    title: 'Introduction to Blob (object) storage - Azure Storage | Microsoft Learn',
  },
];

export function groundedAnswer(question: string): GroundedAnswer {
  const topic = topicOf(question);
  const hash = createHash('sha256').update(question.trim().toLowerCase()).digest('hex');
  const slug = slugOf(topic);
  const learn = learnPages.find((p) => p.pattern.test(question));
  const sources = [
    learn
      ? { url: `https://learn.microsoft.com/en-us/${learn.path}`, title: learn.title }
      : /\b(azure|microsoft|\.net|c#|typescript|visual studio|windows|bicep)\b/i.test(question)
        ? {
            url: `https://learn.microsoft.com/en-us/search/?terms=${encodeURIComponent(topic)}`,
            title: `${capitalise(topic)} - Search | Microsoft Learn`,
          }
        : {
            url: `https://example.net/reference/${slug}`,
            title: `${capitalise(topic)} - Reference overview - Example Reference`,
          },
    {
      url: `https://example.org/articles/${slug}`,
      title: `${capitalise(topic)}: what changed recently - Example.org`,
    },
    {
      url: `https://example.com/news/${hash.slice(0, 4)}/${slug}`,
      title: `${capitalise(topic)} explained - Example News`,
    },
  ];
  const count = 2 + (parseInt(hash.slice(4, 6), 16) % 2);
  const sentences = [
    learn || /\b(azure|microsoft)\b/i.test(question)
      ? `The official documentation describes ${topic}: the main concepts, how to set it up, and the practices Microsoft recommends`
      : `Reference pages give an overview of ${topic}: the background, the main facts and where to read more`,
    `Recent coverage of ${topic} reports what changed over the past months`,
    `Independent write-ups compare ${topic} with alternatives and list the known limitations and costs`,
  ];

  let text = `Here is what current sources say about ${topic}.\n\n`;
  const annotations: UrlCitation[] = [];
  for (let i = 0; i < count; i++) {
    const source = sources[i];
    if (!source) break;
    text += `${i === 0 ? '' : ' '}${sentences[i] ?? ''}`;
    const marker = `【3:${i}†source】`;
    annotations.push({
      type: 'url_citation',
      text: marker,
      start_index: text.length,
      end_index: text.length + marker.length,
      url_citation: source,
    });
    text += `${marker}.`;
  }
  return { text, annotations };
}

function slugOf(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .split('-')
      .slice(0, 8)
      .join('-') || 'topic'
  );
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
