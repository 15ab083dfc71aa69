-- 003_search: full-text search over articles (SQLite FTS5).
-- One row per article (rowid = articles.id). The body is split where the
-- paywall preview ends, so a locked reader's snippet can be drawn from the
-- preview alone. Porter stemming over unicode61 with diacritics removed.

CREATE VIRTUAL TABLE article_search USING fts5 (
    headline,
    standfirst,
    lead,       -- text of the blocks a locked reader may see
    rest,       -- text of the remaining blocks
    authors,
    entities,   -- names and aliases of the linked entities
    tokenize = 'porter unicode61 remove_diacritics 2'
);

-- Backfill what earlier migrations stored. The preview is the first
-- min(2, floor(blocks / 2)) blocks, as domain/paywall.c decides.
INSERT INTO article_search (rowid, headline, standfirst, lead, rest, authors, entities)
SELECT a.id, a.headline, coalesce(a.standfirst, ''),
    coalesce((SELECT group_concat(coalesce(json_extract(b.value, '$.text'), ''), ' ')
              FROM json_each(a.blocks) AS b
              WHERE b.key < min(2, json_array_length(a.blocks) / 2)), ''),
    coalesce((SELECT group_concat(coalesce(json_extract(b.value, '$.text'), ''), ' ')
              FROM json_each(a.blocks) AS b
              WHERE b.key >= min(2, json_array_length(a.blocks) / 2)), ''),
    coalesce((SELECT group_concat(au.name, ' ') FROM article_authors x
              JOIN authors au ON au.id = x.author_id WHERE x.article_id = a.id), ''),
    coalesce((SELECT group_concat(n, ' ') FROM (
                  SELECT e.name AS n FROM article_entities x JOIN entities e ON e.id = x.entity_id
                  WHERE x.article_id = a.id
                  UNION ALL
                  SELECT al.alias FROM article_entities x
                  JOIN entity_aliases al ON al.entity_id = x.entity_id WHERE x.article_id = a.id)),
             '')
FROM articles a;
