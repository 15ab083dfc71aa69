'use strict';
/*
 * search_query.js - `q` to FTS5 syntax, as newsstand's
 * src/domain/search_query.c reads it: words and "phrases" (all must match),
 * OR between two positive terms, -term to exclude; everything else is text.
 *   a b OR c -d  ->  ("a") AND ("b" OR "c") NOT ("d")
 * Returns null when there is no word to search for.
 */
const WORD = /[\p{L}\p{N}]/u;

function tokenize(q) {
  const terms = [];
  let s = 0;
  const space = (c) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' ||
    c === '\v';
  const add = (kind, negated, text) => {
    if (kind === 'word' && !WORD.test(text)) return;
    terms.push({ kind, negated, text });
  };
  while (s < q.length) {
    while (s < q.length && space(q[s])) s++;
    if (s >= q.length) break;
    let negated = false;
    let start = s;
    if (q[s] === '-' && s + 1 < q.length && !space(q[s + 1])) {
      negated = true;
      s++;
    }
    if (q[s] === '"') {
      const close = q.indexOf('"', s + 1);
      if (close >= 0) {
        add('word', negated, q.slice(s + 1, close));
        s = close + 1;
        continue;
      }
      s++;
      start = s;
      negated = false;
    }
    let end = s;
    while (end < q.length && !space(q[end]) && q[end] !== '"') end++;
    if (!negated && end - start === 2 && q.slice(start, end) === 'OR') add('or', false, 'OR');
    else add('word', negated, q.slice(s, end));
    s = end;
  }
  return terms;
}

function translate(q) {
  if (q.length > 500) return null;
  const t = tokenize(q);
  if (t.length > 66) return null;
  const isOp = (i) => i > 0 && i + 1 < t.length && t[i - 1].kind === 'word' && !t[i - 1].negated &&
    t[i + 1].kind === 'word' && !t[i + 1].negated;
  const quote = (text) => `"${text.replace(/"/g, '""')}"`;
  let pos = '';
  const neg = [];
  let open = false;
  for (let i = 0; i < t.length; i++) {
    if (t[i].kind === 'or' && isOp(i)) {
      pos += ' OR ';
      continue;
    }
    if (t[i].negated) {
      neg.push(quote(t[i].text));
      continue;
    }
    const joins = i > 0 && t[i - 1].kind === 'or' && isOp(i - 1);
    if (!joins) {
      if (open) pos += ') AND ';
      pos += '(';
      open = true;
    }
    pos += quote(t[i].text);
  }
  if (!open) return null;
  pos += ')';
  if (neg.length) pos += ` NOT (${neg.join(' OR ')})`;
  return pos;
}

module.exports = { translate };
