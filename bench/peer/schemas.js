'use strict';
/*
 * schemas.js - response schemas of the peer, so Fastify serialises with
 * fast-json-stringify as a Fastify team would. They follow newsstand's wire
 * form (API.md); free-form parts (blocks, meta) keep every member.
 */
const str = { type: 'string' };
const strOrNull = { type: ['string', 'null'] };
const int = { type: 'integer' };
const ref = { type: 'object', properties: { id: int, slug: str, name: str } };
const entityRef = { type: 'object', properties: { id: int, slug: str, name: str, type: str } };

const summaryProperties = {
  id: int,
  slug: str,
  headline: str,
  standfirst: strOrNull,
  url: strOrNull,
  publication: ref,
  section: strOrNull,
  authors: { type: 'array', items: ref },
  image: {
    type: ['object', 'null'],
    properties: {
      url: str, caption: strOrNull, credit: strOrNull, alt: strOrNull,
      width: { type: ['integer', 'null'] }, height: { type: ['integer', 'null'] },
    },
  },
  published_at: str,
  updated_at: str,
  language: str,
  access: str,
  word_count: int,
  reading_time_minutes: int,
  topics: { type: 'array', items: ref },
  entities: { type: 'array', items: entityRef },
};

/* a list item: a summary, with score and highlight in searches and reads in top stories */
const listItem = {
  type: 'object',
  properties: {
    ...summaryProperties,
    score: { type: 'number' },
    highlight: { type: 'object', properties: { headline: str, snippet: str } },
    reads: int,
  },
};

const articleFull = {
  type: 'object',
  properties: {
    ...summaryProperties,
    entities: {
      type: 'array',
      items: {
        type: 'object',
        properties: { ...entityRef.properties, mentions: int, salience: { type: 'number' } },
      },
    },
    blocks: { type: 'array', items: { type: 'object', additionalProperties: true } },
    paywall: { type: 'object', additionalProperties: true },
  },
};

const articleList = {
  type: 'object',
  properties: {
    data: { type: 'array', items: listItem },
    meta: { type: 'object', additionalProperties: true },
    links: { type: 'object', properties: { self: str, next: strOrNull } },
  },
};

const entity = {
  type: 'object',
  properties: {
    id: int,
    slug: str,
    name: str,
    type: str,
    description: strOrNull,
    aliases: { type: 'array', items: str },
    wikidata: strOrNull,
    article_count: int,
    first_seen: strOrNull,
    last_seen: strOrNull,
  },
};

module.exports = { articleFull, articleList, entity };
