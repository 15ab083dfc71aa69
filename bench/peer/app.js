'use strict';
/*
 * app.js - one worker of the peer (see server.js): a Fastify app over one
 * better-sqlite3 connection. The SQL is newsstand's (src/store/articles.c,
 * library.c, entities.c, readers.c, search.c); the JSON is newsstand's wire
 * form (src/json/resource_json.c, api/query.c) as far as the benchmark reads it.
 */
const crypto = require('node:crypto');
const Database = require('better-sqlite3');
const Fastify = require('fastify');
const { blake2b } = require('blakejs');
const schemas = require('./schemas');
const { translate } = require('./search_query');

const SUMMARY_COLUMNS =
  'a.id, a.slug, a.url, a.headline, a.standfirst, a.section, a.language, a.access,' +
  ' p.id AS pub_id, p.slug AS pub_slug, p.name AS pub_name, a.image_url, a.image_caption,' +
  ' a.image_credit, a.image_alt, a.image_width, a.image_height, a.published_at, a.updated_at,' +
  ' a.word_count, a.reads';
const SUMMARY_ENTITIES_MAX = 10;
const PREVIEW_BLOCKS = 2;
const TRIAL_DAYS = 14;
const WORDS_PER_MINUTE = 230;
const LIMIT_DEFAULT = 20;

function rfc3339(t) {
  return new Date(t * 1000).toISOString().slice(0, 19) + 'Z';
}

class Problem extends Error {
  constructor(status, title, detail) {
    super(detail);
    this.status = status;
    this.title = title;
  }
}

function openStore(path) {
  const db = new Database(path, { fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  db.pragma('cache_size = -8000'); /* newsstand's settings: no memory map, 8 MB of cache */
  const prepared = new Map();
  const stmt = (sql) => {
    let s = prepared.get(sql);
    if (!s) {
      s = db.prepare(sql);
      prepared.set(sql, s);
    }
    return s;
  };
  const q = {
    article: db.prepare(`SELECT ${SUMMARY_COLUMNS}, a.blocks, a.external_id FROM articles a` +
      ' JOIN publications p ON p.id = a.publication_id WHERE a.id = @id OR a.slug = @slug'),
    row: db.prepare(`SELECT ${SUMMARY_COLUMNS} FROM articles a` +
      ' JOIN publications p ON p.id = a.publication_id WHERE a.id = ?'),
    authors: db.prepare('SELECT au.id, au.slug, au.name FROM article_authors aa' +
      ' JOIN authors au ON au.id = aa.author_id WHERE aa.article_id = ? ORDER BY aa.position'),
    topics: db.prepare('SELECT t.id, t.slug, t.name FROM article_topics x' +
      ' JOIN topics t ON t.id = x.topic_id WHERE x.article_id = ? ORDER BY t.name, t.id'),
    entities: db.prepare('SELECT e.id, e.slug, e.name, e.type, x.mentions, x.salience' +
      ' FROM article_entities x JOIN entities e ON e.id = x.entity_id WHERE x.article_id = ?' +
      ' ORDER BY x.salience DESC, x.mentions DESC, e.id LIMIT ?'),
    topicId: db.prepare('SELECT id FROM topics WHERE id = @id OR slug = @ref OR slug = @slug' +
      ' ORDER BY slug = @ref DESC LIMIT 1'),
    entityById: db.prepare('SELECT id, slug, name, type, description, wikidata, article_count,' +
      ' first_seen, last_seen FROM entities WHERE id = ?'),
    entityBySlug: db.prepare('SELECT id FROM entities WHERE slug = ?'),
    entityByAlias: db.prepare('SELECT entity_id AS id FROM entity_aliases WHERE alias_slug = ?' +
      ' ORDER BY entity_id LIMIT 1'),
    redirectById: db.prepare('SELECT into_id AS id FROM entity_redirects WHERE old_id = ?'),
    redirectBySlug: db.prepare('SELECT into_id AS id FROM entity_redirects WHERE old_slug = ?'),
    aliases: db.prepare('SELECT alias FROM entity_aliases WHERE entity_id = ?' +
      ' ORDER BY alias_key, alias').pluck(),
    session: db.prepare('SELECT u.id, u.plan, u.plan_expires_at FROM sessions x' +
      ' JOIN users u ON u.id = x.user_id WHERE x.token_hash = ? AND x.expires_at > ?'),
    follows: db.prepare('SELECT count(*) FROM follows WHERE user_id = ?').pluck(),
    countFollowed: db.prepare('SELECT count(*) FROM (SELECT article_id FROM article_entities' +
      " WHERE entity_id IN (SELECT target_id FROM follows WHERE user_id = @u AND kind = 'entity')" +
      ' UNION SELECT article_id FROM article_topics WHERE topic_id IN' +
      " (SELECT target_id FROM follows WHERE user_id = @u AND kind = 'topic')" +
      ' UNION SELECT article_id FROM article_authors WHERE author_id IN' +
      " (SELECT target_id FROM follows WHERE user_id = @u AND kind = 'author')" +
      ' UNION SELECT id FROM articles WHERE publication_id IN' +
      " (SELECT target_id FROM follows WHERE user_id = @u AND kind = 'publication'))").pluck(),
    topCount: db.prepare('SELECT count(DISTINCT article_id) FROM read_counts WHERE hour >= ?')
      .pluck(),
    top: db.prepare('SELECT article_id, sum(reads) AS r FROM read_counts WHERE hour >= ?' +
      ' GROUP BY article_id ORDER BY r DESC, article_id LIMIT ?'),
    cursorKey: db.prepare("SELECT value FROM settings WHERE key = 'cursor_key'").pluck(),
    total: db.prepare('SELECT count(*) FROM articles').pluck(),
    hits: db.prepare('SELECT rowid AS id,' +
      " round(CASE WHEN @hide AND (SELECT access = 'premium' FROM articles" +
      '   WHERE id = article_search.rowid)' +
      ' THEN -bm25(article_search, 10.0, 4.0, 2.0, 0.0, 3.0, 3.0)' +
      ' ELSE -bm25(article_search, 10.0, 4.0, 2.0, 1.0, 3.0, 3.0) END, 3) AS score,' +
      " highlight(article_search, 0, x'01', x'02') AS headline," +
      " snippet(article_search, 2, x'01', x'02', '…', 24) AS lead," +
      " snippet(article_search, 3, x'01', x'02', '…', 24) AS rest" +
      ' FROM article_search WHERE article_search MATCH @match' +
      ' AND rowid IN (SELECT value FROM json_each(@ids))'),
  };
  return { db, q, stmt };
}

/* --- rows to wire form */

function summaryOf(store, r) {
  const id = r.id;
  return {
    id,
    slug: r.slug,
    headline: r.headline,
    standfirst: r.standfirst,
    url: r.url,
    publication: { id: r.pub_id, slug: r.pub_slug, name: r.pub_name },
    section: r.section,
    authors: store.q.authors.all(id),
    image: r.image_url ? {
      url: r.image_url, caption: r.image_caption, credit: r.image_credit, alt: r.image_alt,
      width: r.image_width > 0 ? r.image_width : null,
      height: r.image_height > 0 ? r.image_height : null,
    } : null,
    published_at: rfc3339(r.published_at),
    updated_at: rfc3339(r.updated_at),
    language: r.language,
    access: r.access,
    word_count: r.word_count,
    reading_time_minutes: Math.max(1, Math.ceil(r.word_count / WORDS_PER_MINUTE)),
    topics: store.q.topics.all(id),
    entities: null,
  };
}

function summaryById(store, id) {
  const r = store.q.row.get(id);
  if (!r) return null;
  const s = summaryOf(store, r);
  s.entities = store.q.entities.all(id, SUMMARY_ENTITIES_MAX);
  return s;
}

function locked(premium, reader, now) {
  if (!premium) return false;
  if (!reader) return true;
  return !((reader.plan === 'trial' || reader.plan === 'member') && reader.expires_at > now);
}

/* --- cursors: sealed with HMAC-SHA256 under the database's cursor key */

function makeCursors(store) {
  const key = store.q.cursorKey.get();
  const scope = (canonical) => crypto.createHash('sha256').update(canonical).digest()
    .subarray(0, 8);
  return {
    encode(canonical, sortKey, id) {
      const raw = Buffer.alloc(25);
      raw[0] = 1;
      scope(canonical).copy(raw, 1);
      raw.writeBigInt64LE(BigInt(sortKey), 9);
      raw.writeBigInt64LE(BigInt(id), 17);
      const tag = crypto.createHmac('sha256', key).update(raw).digest().subarray(0, 16);
      return Buffer.concat([raw, tag]).toString('base64url');
    },
    decode(canonical, text) {
      const raw = Buffer.from(text, 'base64url');
      if (raw.length !== 41 || raw[0] !== 1) throw new Problem(400, 'Invalid parameter', 'bad cursor');
      const tag = crypto.createHmac('sha256', key).update(raw.subarray(0, 25)).digest()
        .subarray(0, 16);
      if (!crypto.timingSafeEqual(tag, raw.subarray(25)) ||
          !scope(canonical).equals(raw.subarray(1, 9))) {
        throw new Problem(400, 'Invalid parameter', 'bad cursor');
      }
      return { key: raw.readBigInt64LE(9), id: raw.readBigInt64LE(17) };
    },
  };
}

function parseLimit(query) {
  if (query.limit === undefined) return LIMIT_DEFAULT;
  const n = Number(query.limit);
  if (!Number.isInteger(n) || n < 1 || n > 100) {
    throw new Problem(400, 'Invalid parameter', 'limit must be between 1 and 100');
  }
  return n;
}

function listReply(request, reply, data, meta, limit, total, next) {
  const url = request.url;
  const base = url.replace(/([?&])cursor=[^&]*&?/, '$1').replace(/[?&]$/, '');
  const nextUrl = next ? `${base}${base.includes('?') ? '&' : '?'}cursor=${next}` : null;
  meta.limit = limit;
  meta.total = total;
  meta.next_cursor = next;
  if (nextUrl) reply.header('Link', `<${nextUrl}>; rel="next"`);
  return { data, meta, links: { self: url, next: nextUrl } };
}

/* --- the article list: newsstand's where_filters for the filters the peer takes */

function whereFilters(f, searchJoined, driver, binds, idExpr = 'a.id') {
  const conds = [];
  if (f.match && !searchJoined) {
    conds.push('a.id IN (SELECT rowid FROM article_search WHERE article_search MATCH ?)');
    binds.push(f.match);
  }
  if (f.match && f.hideRest) {
    conds.push("(a.access = 'free' OR a.id IN (SELECT rowid FROM article_search" +
      ' WHERE article_search MATCH ?))');
    binds.push(f.matchPublic);
  }
  for (const t of f.topics) {
    if (driver && driver.kind === 'topic' && driver.id === t) continue;
    conds.push(`EXISTS (SELECT 1 FROM article_topics xt WHERE xt.article_id = ${idExpr}` +
      ' AND xt.topic_id = ?)');
    binds.push(t);
  }
  for (const e of f.entities) {
    if (driver && driver.kind === 'entity' && driver.id === e) continue;
    conds.push(`EXISTS (SELECT 1 FROM article_entities xe WHERE xe.article_id = ${idExpr}` +
      ' AND xe.entity_id = ?)');
    binds.push(e);
  }
  if (f.follower && f.paging) {
    conds.push('(EXISTS (SELECT 1 FROM article_entities fe JOIN follows fo' +
      " ON fo.user_id = ? AND fo.kind = 'entity' AND fo.target_id = fe.entity_id" +
      ' WHERE fe.article_id = a.id)' +
      ' OR EXISTS (SELECT 1 FROM article_topics ft JOIN follows fo' +
      " ON fo.user_id = ? AND fo.kind = 'topic' AND fo.target_id = ft.topic_id" +
      ' WHERE ft.article_id = a.id)' +
      ' OR EXISTS (SELECT 1 FROM article_authors fa JOIN follows fo' +
      " ON fo.user_id = ? AND fo.kind = 'author' AND fo.target_id = fa.author_id" +
      ' WHERE fa.article_id = a.id)' +
      ' OR EXISTS (SELECT 1 FROM follows fo WHERE fo.user_id = ? AND' +
      " fo.kind = 'publication' AND fo.target_id = a.publication_id))");
    binds.push(f.follower, f.follower, f.follower, f.follower);
  }
  return conds;
}

const DRIVERS = {
  topic: { from: 'article_topics d', key: 'd.topic_id = ?',
    size: 'SELECT count(*) FROM (SELECT 1 FROM article_topics WHERE topic_id = @id LIMIT @cap)' },
  entity: { from: 'article_entities d', key: 'd.entity_id = ?',
    size: 'SELECT min(article_count, @cap) FROM entities WHERE id = @id' },
};

/* newsstand's choose_driver: the topic or entity filter linking the fewest articles */
function chooseDriver(store, f) {
  if (f.match || f.follower) return null;
  let best = null;
  for (const [kind, ids] of [['entity', f.entities], ['topic', f.topics]]) {
    for (const id of ids) {
      const cap = best ? best.estimate : Number.MAX_SAFE_INTEGER;
      const n = store.stmt(DRIVERS[kind].size).pluck().get({ id, cap }) || 0;
      if (!best || n < best.estimate) best = { kind, id, estimate: n };
    }
  }
  return best;
}

function sql(head, conds, tail = '') {
  return head + (conds.length ? ' WHERE ' + conds.join(' AND ') : '') + tail;
}

function listArticles(store, f) {
  const driver = chooseDriver(store, f);
  let total;
  if (f.follower && !f.match && !f.topics.length && !f.entities.length) {
    total = store.q.countFollowed.get({ u: f.follower });
  } else if (driver) {
    const binds = [driver.id];
    const conds = [DRIVERS[driver.kind].key, ...whereFilters(f, false, driver, binds, 'd.article_id')];
    total = store.stmt(sql(`SELECT count(*) FROM ${DRIVERS[driver.kind].from}`, conds)).pluck()
      .get(binds);
  } else {
    const binds = [];
    const conds = whereFilters(f, false, null, binds);
    total = store.stmt(sql('SELECT count(*) FROM articles a', conds)).pluck().get(binds);
  }
  if (total === 0) return { total, page: [] };
  const binds = [];
  const relevance = Boolean(f.match);
  let head;
  let conds = [];
  let fromDriver = false;
  if (driver) {
    const all = store.q.total.get();
    fromDriver = driver.estimate < (f.limit + 1) * all / total;
  }
  if (relevance) {
    head = 'SELECT a.id, s.score FROM (SELECT rowid AS sid,' +
      " round(CASE WHEN ? AND (SELECT access = 'premium' FROM articles" +
      '   WHERE id = article_search.rowid)' +
      ' THEN -bm25(article_search, 10.0, 4.0, 2.0, 0.0, 3.0, 3.0)' +
      ' ELSE -bm25(article_search, 10.0, 4.0, 2.0, 1.0, 3.0, 3.0) END, 3) AS score' +
      ' FROM article_search WHERE article_search MATCH ?) s JOIN articles a ON a.id = s.sid';
    binds.push(f.hideRest ? 1 : 0, f.match);
  } else if (fromDriver) {
    head = `SELECT a.id, a.published_at AS score FROM ${DRIVERS[driver.kind].from}` +
      ' CROSS JOIN articles a ON a.id = d.article_id';
    conds.push(DRIVERS[driver.kind].key);
    binds.push(driver.id);
  } else {
    head = 'SELECT a.id, a.published_at AS score FROM articles a';
  }
  conds = conds.concat(whereFilters({ ...f, paging: true }, relevance, fromDriver ? driver : null,
    binds));
  if (f.after && relevance) {
    conds.push('(s.score < ? OR (s.score = ? AND a.id > ?))');
    binds.push(f.after.score, f.after.score, f.after.id);
  } else if (f.after) {
    conds.push('(a.published_at < ? OR (a.published_at = ? AND a.id < ?))');
    binds.push(f.after.key, f.after.key, f.after.id);
  }
  const order = relevance ? ' ORDER BY s.score DESC, a.id ASC'
    : ' ORDER BY a.published_at DESC, a.id DESC';
  binds.push(f.limit + 1);
  const page = store.stmt(sql(head, conds, order + ' LIMIT ?')).all(binds);
  return { total, page };
}

function entityId(store, ref) {
  if (/^[1-9][0-9]{0,17}$/.test(ref)) {
    const id = Number(ref);
    if (store.q.entityById.get(id)) return id;
    const r = store.q.redirectById.get(id);
    return r ? r.id : 0;
  }
  const slug = slugify(ref);
  const r = store.q.entityBySlug.get(ref) || (slug && store.q.entityBySlug.get(slug)) ||
    (slug && store.q.entityByAlias.get(slug)) || (slug && store.q.redirectBySlug.get(slug));
  return r ? r.id : 0;
}

function slugify(text) {
  return text.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase()
    .replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80);
}

function htmlMarked(marked) {
  let out = '';
  let open = false;
  for (const c of marked || '') {
    if (c === '\x01') {
      if (!open) out += '<mark>';
      open = true;
    } else if (c === '\x02') {
      if (open) out += '</mark>';
      open = false;
    } else if (c === '&') out += '&amp;';
    else if (c === '<') out += '&lt;';
    else if (c === '>') out += '&gt;';
    else if (c === '"') out += '&quot;';
    else if (c === "'") out += '&#39;';
    else out += c;
  }
  return open ? out + '</mark>' : out;
}

/* --- routes */

function routes(fastify, store) {
  const cursors = makeCursors(store);

  function reader(request) {
    const auth = request.headers.authorization;
    const m = auth && /^Bearer (nss_[A-Za-z0-9_-]{43})$/.exec(auth);
    if (!m) throw new Problem(401, 'Unauthorized', 'sign in: Authorization: Bearer <token>');
    const hash = Buffer.from(blake2b(Buffer.from(m[1]), null, 32));
    const now = Math.floor(Date.now() / 1000);
    const u = store.q.session.get(hash, now);
    if (!u) throw new Problem(401, 'Unauthorized', 'the token is not valid');
    return { id: u.id, plan: u.plan, expires_at: u.plan_expires_at };
  }

  fastify.get('/readyz', async () => {
    store.db.prepare('SELECT 1').get();
    return { status: 'ready' };
  });

  fastify.get('/v1/articles/:id', { schema: { response: { 200: schemas.articleFull } } },
    async (request) => {
      const ref = request.params.id;
      const isId = /^[1-9][0-9]{0,17}$/.test(ref);
      const r = store.q.article.get({ id: isId ? Number(ref) : -1, slug: isId ? null : ref });
      if (!r) throw new Problem(404, 'Not found', 'no such article');
      const a = summaryOf(store, r);
      a.entities = store.q.entities.all(r.id, -1);
      for (const e of a.entities) e.salience = Math.round(e.salience * 1000) / 1000;
      let blocks = JSON.parse(r.blocks);
      const isLocked = locked(r.access === 'premium', null, Date.now() / 1000);
      if (isLocked) blocks = blocks.slice(0, Math.min(PREVIEW_BLOCKS, Math.floor(blocks.length / 2)));
      a.blocks = blocks;
      a.paywall = isLocked
        ? { locked: true, reason: 'membership_required', preview_blocks: blocks.length,
          trial_days: TRIAL_DAYS }
        : { locked: false };
      return a;
    });

  fastify.get('/v1/articles', { schema: { response: { 200: schemas.articleList } } },
    async (request, reply) => {
      const query = request.query;
      const limit = parseLimit(query);
      const f = { limit, topics: [], entities: [], match: null, hideRest: false };
      for (const ref of (query.topic ? query.topic.split(',') : [])) {
        const slug = slugify(ref);
        const t = store.q.topicId.get({
          id: /^[1-9][0-9]*$/.test(ref) ? Number(ref) : -1, ref, slug });
        if (!t) throw new Problem(400, 'Invalid parameter', `no topic '${ref}'`);
        f.topics.push(t.id);
      }
      for (const ref of (query.entity ? query.entity.split(',') : [])) {
        const id = entityId(store, ref);
        if (!id) throw new Problem(400, 'Invalid parameter', `no entity '${ref}'`);
        f.entities.push(id);
      }
      if (query.q !== undefined) {
        f.match = translate(query.q);
        if (!f.match) throw new Problem(400, 'Invalid parameter', 'q needs a word to search for');
        f.hideRest = true; /* anonymous: the hidden part of premium text must not count */
        f.matchPublic = `{headline standfirst lead authors entities} : (${f.match})`;
      }
      const canonical = `articles|${f.match || ''}|${f.topics}|${f.entities}`;
      if (query.cursor) {
        const c = cursors.decode(canonical, query.cursor);
        f.after = { key: c.key, id: c.id,
          score: new Float64Array(new BigInt64Array([c.key]).buffer)[0] };
      }
      const { total, page } = listArticles(store, f);
      const more = page.length > limit;
      if (more) page.length = limit;
      let data;
      if (f.match) {
        const hits = new Map();
        const ids = JSON.stringify(page.map((p) => p.id));
        for (const h of store.q.hits.all({ hide: 1, match: f.match, ids })) hits.set(h.id, h);
        data = page.map((p) => {
          const s = summaryById(store, p.id);
          const h = hits.get(p.id) || {};
          const isLocked = locked(s.access === 'premium', null, 0);
          let snippet = h.lead;
          if (!isLocked && !(h.lead || '').includes('\x01') &&
              ((h.rest || '').includes('\x01') || !h.lead)) snippet = h.rest;
          s.score = h.score !== undefined ? h.score : p.score;
          s.highlight = { headline: htmlMarked(h.headline || s.headline), snippet: htmlMarked(snippet) };
          return s;
        });
      } else {
        data = page.map((p) => summaryById(store, p.id));
      }
      let next = null;
      if (more) {
        const last = page[limit - 1];
        const key = f.match
          ? new BigInt64Array(new Float64Array([last.score]).buffer)[0] : BigInt(last.score);
        next = cursors.encode(canonical, key, last.id);
      }
      return listReply(request, reply, data, { sort: f.match ? 'relevance' : 'newest' }, limit,
        total, next);
    });

  fastify.get('/v1/entities/:id', { schema: { response: { 200: schemas.entity } } },
    async (request) => {
      const id = entityId(store, request.params.id);
      const e = id && store.q.entityById.get(id);
      if (!e) throw new Problem(404, 'Not found', 'no such entity');
      const seen = e.first_seen !== null;
      return {
        id: e.id, slug: e.slug, name: e.name, type: e.type, description: e.description,
        aliases: store.q.aliases.all(e.id), wikidata: e.wikidata, article_count: e.article_count,
        first_seen: seen ? rfc3339(e.first_seen) : null,
        last_seen: seen ? rfc3339(e.last_seen) : null,
      };
    });

  function topStories(request, reply, meta, hours, limit) {
    const since = Math.floor((Math.floor(Date.now() / 1000) - hours * 3600) / 3600);
    const total = store.q.topCount.get(since);
    const rows = store.q.top.all(since, limit + 1);
    const more = rows.length > limit;
    if (more) rows.length = limit;
    const data = rows.map((r) => {
      const s = summaryById(store, r.article_id);
      s.reads = r.r;
      return s;
    });
    const next = more ? cursors.encode(`top|${meta.window}`, rows[limit - 1].r,
      rows[limit - 1].article_id) : null;
    return listReply(request, reply, data, meta, limit, total, next);
  }

  fastify.get('/v1/top-stories', { schema: { response: { 200: schemas.articleList } } },
    async (request, reply) => {
      const limit = parseLimit(request.query);
      return topStories(request, reply, { window: '24h' }, 24, limit);
    });

  fastify.get('/v1/me/feed', { schema: { response: { 200: schemas.articleList } } },
    async (request, reply) => {
      const who = reader(request);
      reply.header('Cache-Control', 'private, no-store');
      const limit = parseLimit(request.query);
      if (store.q.follows.get(who.id) === 0) {
        return topStories(request, reply, { source: 'top-stories', window: '24h' }, 24, limit);
      }
      const f = { limit, topics: [], entities: [], follower: who.id };
      const canonical = `feed|${who.id}`;
      if (request.query.cursor) f.after = cursors.decode(canonical, request.query.cursor);
      const { total, page } = listArticles(store, f);
      const more = page.length > limit;
      if (more) page.length = limit;
      const data = page.map((p) => summaryById(store, p.id));
      const next = more ? cursors.encode(canonical, page[limit - 1].score, page[limit - 1].id)
        : null;
      return listReply(request, reply, data, { source: 'follows' }, limit, total, next);
    });
}

async function start({ dbPath, port }) {
  const store = openStore(dbPath);
  const fastify = Fastify({
    logger: false,
    genReqId: () => crypto.randomBytes(16).toString('hex'),
  });
  await fastify.register(require('@fastify/etag'));
  await fastify.register(require('@fastify/compress'), {
    global: true, threshold: 1024, encodings: ['gzip', 'deflate'], zlibOptions: { level: 1 },
  });
  fastify.addHook('onSend', async (request, reply, payload) => {
    reply.header('X-Request-Id', request.id);
    reply.header('X-Content-Type-Options', 'nosniff');
    if (!reply.hasHeader('Cache-Control')) reply.header('Cache-Control', 'public, max-age=60');
    reply.header('Vary', 'Authorization, Accept-Encoding');
    return payload;
  });
  fastify.setErrorHandler((err, request, reply) => {
    const status = err instanceof Problem ? err.status : (err.statusCode || 500);
    reply.code(status).type('application/problem+json').header('Cache-Control', 'no-store');
    if (status === 401) reply.header('WWW-Authenticate', 'Bearer realm="newsstand"');
    return {
      type: 'about:blank', title: err instanceof Problem ? err.title : 'Error', status,
      detail: status >= 500 ? 'internal error' : err.message, request_id: request.id,
    };
  });
  routes(fastify, store);
  await fastify.listen({ port, host: '127.0.0.1' });
}

module.exports = { start };
