import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { SearchHit } from './store.js';

/**
 * Full-text search over message text and conversation titles, ranked, in SQLite (FTS5 unicode61)
 * and PostgreSQL (tsvector `simple` + pg_trgm). Any query text is safe: it is never passed as
 * query syntax; each word becomes a quoted prefix phrase (SQLite) or a quoted prefix lexeme
 * and an escaped ILIKE pattern (PostgreSQL). A reply is found once it has finished: its text
 * while it streams is a draft, rewritten several times a second (search migration 3).
 */

/** The words of a query, NUL-free, at most 16, each at most 200 characters. */
export function queryTerms(q: string): string[] {
  return q
    .replaceAll(String.fromCharCode(0), ' ')
    .split(/\s+/u)
    .filter((t) => t.length > 0)
    .slice(0, 16)
    .map((t) => t.slice(0, 200));
}

const likePattern = (term: string): string => `%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** Scripts written without spaces between words: a word index cannot find a word inside a run. */
const UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;
export const needsSubstring = (term: string): boolean => UNSPACED.test(term);

/** Each word as a quoted prefix phrase: FTS5 syntax in the text is never interpreted. */
const ftsPhrase = (term: string): string => `"${term.replace(/"/g, '""')}"*`;

/** Characters FTS5 unicode61 treats as separators only, which would make an empty phrase. */
const hasWordChar = (term: string): boolean => /[\p{L}\p{N}]/u.test(term);

/** A plain-text excerpt around the first match, for hits found without the index. */
export function excerpt(text: string, terms: readonly string[], width = 80): string {
  const lower = text.toLowerCase();
  let at = -1;
  for (const t of terms) {
    const i = lower.indexOf(t.toLowerCase());
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  const start = Math.max(0, at - Math.floor(width / 3));
  const end = Math.min(text.length, start + width);
  return `${start > 0 ? '…' : ''}${text.slice(start, end)}${end < text.length ? '…' : ''}`;
}

interface Row {
  conversation_id: string;
  message_id: string | null;
  title: string;
  snippet: string;
  created_at: string;
  rank: number;
}

const toHit = (r: Row): SearchHit => ({
  conversationId: r.conversation_id,
  messageId: r.message_id,
  title: r.title,
  snippet: r.snippet,
  createdAt: r.created_at,
});

export async function searchSqlite(db: Kysely<Database>, q: string, limit: number): Promise<SearchHit[]> {
  const terms = queryTerms(q);
  if (terms.length === 0) return [];
  const long = terms.filter((t) => !needsSubstring(t) && hasWordChar(t));
  const short = terms.filter((t) => needsSubstring(t));
  if (long.length === 0) {
    if (short.length === 0) return [];
    // Only words of unspaced scripts: a substring scan, newest first.
    const like = short.map((t) => sql`m.content LIKE ${likePattern(t)} ESCAPE '\\'`);
    const rows = await sql<Omit<Row, 'snippet' | 'rank'> & { content: string }>`
      SELECT m.conversation_id, m.id AS message_id, c.title, m.created_at, m.content
      FROM messages m JOIN conversations c ON c.id = m.conversation_id
      WHERE m.status <> 'streaming' AND ${sql.join(like, sql` AND `)}
      ORDER BY m.id DESC LIMIT ${limit}`.execute(db);
    return rows.rows.map((r) => toHit({ ...r, snippet: excerpt(r.content, short), rank: 0 }));
  }
  const match = long.map(ftsPhrase).join(' ');
  const extra = short.length === 0 ? sql`` : sql` AND ${sql.join(short.map((t) => sql`m.content LIKE ${likePattern(t)} ESCAPE '\\'`), sql` AND `)}`;
  const messages = await sql<Row>`
    SELECT m.conversation_id, m.id AS message_id, c.title, m.created_at,
      snippet(messages_fts, 0, '', '', '…', 24) AS snippet, bm25(messages_fts) AS rank
    FROM messages_fts JOIN messages m ON m.rowid = messages_fts.rowid JOIN conversations c ON c.id = m.conversation_id
    WHERE messages_fts MATCH ${match}${extra}
    ORDER BY rank LIMIT ${limit}`.execute(db);
  const titles = await sql<Row>`
    SELECT c.id AS conversation_id, NULL AS message_id, c.title, c.created_at, c.title AS snippet, bm25(conversations_fts) AS rank
    FROM conversations_fts JOIN conversations c ON c.rowid = conversations_fts.rowid
    WHERE conversations_fts MATCH ${match}
    ORDER BY rank LIMIT ${limit}`.execute(db);
  // bm25 is lower for better matches; a title match counts double.
  return merge(
    titles.rows.map((r) => ({ ...r, rank: Number(r.rank) * 2 })),
    messages.rows.map((r) => ({ ...r, rank: Number(r.rank) })),
    limit,
    (a, b) => a.rank - b.rank,
  );
}

export async function searchPostgres(db: Kysely<Database>, q: string, limit: number): Promise<SearchHit[]> {
  const terms = queryTerms(q);
  if (terms.length === 0) return [];
  // Each word a quoted prefix lexeme ('word':*), so no character of the query is tsquery syntax.
  const lexemes = terms.filter(hasWordChar).map((t) => `'${t.replace(/\\/g, '\\\\').replace(/'/g, "''")}':*`);
  const text = lexemes.length > 0 ? lexemes.join(' & ') : "''";
  const substrings = terms.map((t) => sql`m.content ILIKE ${likePattern(t)}`);
  const titleSubstrings = terms.map((t) => sql`c.title ILIKE ${likePattern(t)}`);
  // Word matches ranked by ts_rank; substring matches (scripts without spaces, parts of words)
  // rank below them. ts_headline runs only on the page kept.
  const unspaced = terms.some(needsSubstring);
  // Word matches first, ranked by ts_rank (ts_headline runs only on the page kept); substring
  // matches (scripts without spaces, parts of words) only fill a page the words left short.
  const words = await sql<Row & { content: string }>`
    WITH query AS (SELECT to_tsquery('simple', ${text}) AS tsq),
    hits AS (
      SELECT m.id, m.conversation_id, m.content, m.created_at, ts_rank(m.search_vector, query.tsq) + 1 AS rank
      FROM messages m, query
      WHERE m.search_vector @@ query.tsq AND m.status <> 'streaming'
      ORDER BY rank DESC, m.id DESC LIMIT ${limit}
    )
    SELECT h.conversation_id, h.id AS message_id, c.title, h.created_at, h.rank, '' AS content,
      ts_headline('simple', h.content, query.tsq, 'MaxWords=24, MinWords=8, StartSel="", StopSel=""') AS snippet
    FROM hits h JOIN conversations c ON c.id = h.conversation_id, query
    ORDER BY h.rank DESC, h.id DESC`.execute(db);
  const found = new Set(words.rows.map((r) => r.message_id));
  const more =
    words.rows.length >= limit || !unspaced
      ? []
      : (
          await sql<Row & { content: string }>`
            SELECT m.conversation_id, m.id AS message_id, c.title, m.created_at, 0 AS rank, m.content, '' AS snippet
            FROM messages m JOIN conversations c ON c.id = m.conversation_id
            WHERE m.status <> 'streaming' AND ${sql.join(substrings, sql` AND `)}
            ORDER BY m.id DESC LIMIT ${limit}`.execute(db)
        ).rows.filter((r) => !found.has(r.message_id));
  const messages = { rows: [...words.rows, ...more] };
  const titles = await sql<Row>`
    WITH query AS (SELECT to_tsquery('simple', ${text}) AS tsq)
    SELECT c.id AS conversation_id, NULL AS message_id, c.title, c.created_at, c.title AS snippet,
      CASE WHEN c.search_vector @@ query.tsq THEN ts_rank(c.search_vector, query.tsq) * 2 + 1 ELSE 0.5 END AS rank
    FROM conversations c, query
    WHERE c.search_vector @@ query.tsq ${unspaced ? sql`OR (${sql.join(titleSubstrings, sql` AND `)})` : sql``}
    ORDER BY rank DESC, c.id DESC LIMIT ${limit}`.execute(db);
  // ts_headline shows the start of the text when only a substring matched: show the match instead.
  const rows = messages.rows.map(({ content, ...r }) => (Number(r.rank) > 0 ? r : { ...r, snippet: excerpt(content, terms) }));
  return merge(
    titles.rows.map((r) => ({ ...r, rank: Number(r.rank) })),
    rows.map((r) => ({ ...r, rank: Number(r.rank) })),
    limit,
    (a, b) => b.rank - a.rank,
  );
}

function merge(titles: Row[], messages: Row[], limit: number, order: (a: Row, b: Row) => number): SearchHit[] {
  return [...titles, ...messages].sort(order).slice(0, limit).map(toHit);
}
