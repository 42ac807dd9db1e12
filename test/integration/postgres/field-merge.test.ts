import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../../backend/data/ids.js';
import { replicaPath } from '../../../backend/data/open.js';
import { collapse, pushBatch } from '../../../backend/data/remote-sync.js';
import type { Conversation, Mutation } from '../../../backend/data/store.js';
import { startPostgres, type PrivatePostgres } from '../../fixtures/services/postgres.js';
import { openRemote, openReplicated, tempDir, waitFor } from './helpers.js';

/**
 * Two instances that edit one conversation: PostgreSQL keeps, field by field, the latest write,
 * whichever instance pushes last. Before, the last push won: an edit made earlier on one instance
 * and pushed later (its outbox was behind) overwrote a newer edit from the other.
 */

let pg: PrivatePostgres;
const dirs: Array<() => void> = [];

beforeAll(async () => {
  pg = await startPostgres();
});

afterAll(async () => {
  await pg?.stop();
  for (const remove of dirs) remove();
});

const at = (i: number): string => new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString();

function conversation(title: string, i = 0): Conversation {
  return { id: newId(), title, createdAt: at(i), updatedAt: at(i), activeLeafId: null, model: null, systemPrompt: null, sourceKey: null };
}

const remoteDb = (database: string) => openRemote(pg, database);

/** The conversation as a replica's SQLite file has it, read beside the running store (WAL allows it). */
function localRow(dataDir: string, id: string): Pick<Row, 'title' | 'active_leaf_id' | 'updated_at'> | undefined {
  const file = new Database(replicaPath(dataDir), { readonly: true, fileMustExist: true });
  try {
    return file.prepare('SELECT title, active_leaf_id, updated_at FROM conversations WHERE id = ?').get(id) as
      | Pick<Row, 'title' | 'active_leaf_id' | 'updated_at'>
      | undefined;
  } finally {
    file.close();
  }
}

type Row = { title: string; active_leaf_id: string | null; model: string | null; system_prompt: string | null; updated_at: string };
const rowOf = async (database: string, id: string): Promise<Row | undefined> =>
  (await pg.query(database, `SELECT title, active_leaf_id, model, system_prompt, updated_at FROM conversations WHERE id = '${id}'`))[0] as Row | undefined;

describe('collapse: the fields a batch sets', () => {
  it('stamps only the fields the writes named, with the time of the last write', () => {
    const c = conversation('x', 1);
    const batch = collapse([
      { kind: 'conversation.upsert', row: { ...c, title: 'y', updatedAt: at(2) }, fields: ['title'] },
      { kind: 'conversation.upsert', row: { ...c, title: 'y', model: 'm', updatedAt: at(3) }, fields: ['model'] },
    ]);
    expect(batch.conversations).toHaveLength(1);
    expect(JSON.parse(batch.conversations[0]?.field_stamps ?? '')).toEqual({ title: at(3), model: at(3) });
  });

  it('a write without fields (a new conversation) stamps them all; a delete forgets earlier writes', () => {
    const c = conversation('x', 1);
    const d = conversation('gone', 1);
    const batch = collapse([
      { kind: 'conversation.upsert', row: c },
      { kind: 'conversation.upsert', row: { ...c, title: 'y', updatedAt: at(2) }, fields: ['title'] },
      { kind: 'conversation.upsert', row: d, fields: ['title'] },
      { kind: 'conversation.delete', id: d.id },
    ]);
    expect(batch.conversations.map((r) => r.id)).toEqual([c.id]);
    expect(JSON.parse(batch.conversations[0]?.field_stamps ?? '')).toEqual({ title: at(2), active_leaf_id: at(2), model: at(2), system_prompt: at(2) });
    expect(batch.deletes).toEqual([d.id]);
  });
});

describe('pushBatch merges conversation fields by write time (real PostgreSQL)', () => {
  it('an older rename pushed last does not overwrite a newer one, and the pusher learns the kept row', async () => {
    const database = await pg.createDatabase();
    const remote = await remoteDb(database);
    try {
      const c = conversation('first', 0);
      await pushBatch(remote.target, [{ kind: 'conversation.upsert', row: c }]);
      // Instance A renames at second 20 and pushes at once.
      const a = await pushBatch(remote.target, [{ kind: 'conversation.upsert', row: { ...c, title: 'newer (A)', updatedAt: at(20) }, fields: ['title'] }]);
      expect(a.merged).toEqual([]);
      // Instance B renamed at second 10; its push arrives after A's.
      const b = await pushBatch(remote.target, [{ kind: 'conversation.upsert', row: { ...c, title: 'older (B)', updatedAt: at(10) }, fields: ['title'] }]);
      expect(await rowOf(database, c.id)).toMatchObject({ title: 'newer (A)', updated_at: at(20) });
      expect(b.merged).toEqual([expect.objectContaining({ id: c.id, title: 'newer (A)', updated_at: at(20) })]);
      // A later rename still wins, from either instance.
      await pushBatch(remote.target, [{ kind: 'conversation.upsert', row: { ...c, title: 'latest (B)', updatedAt: at(30) }, fields: ['title'] }]);
      expect(await rowOf(database, c.id)).toMatchObject({ title: 'latest (B)', updated_at: at(30) });
    } finally {
      await remote.close();
    }
  });

  it('changes of different fields on two instances both survive, in either push order', async () => {
    const database = await pg.createDatabase();
    const remote = await remoteDb(database);
    try {
      for (const order of ['turn first', 'rename first'] as const) {
        const c = conversation('start', 0);
        await pushBatch(remote.target, [{ kind: 'conversation.upsert', row: c }]);
        // A: a chat turn moves the active leaf (at second 5); it knows nothing of B's rename.
        const turn: Mutation = { kind: 'conversation.upsert', row: { ...c, activeLeafId: 'leaf-from-A', updatedAt: at(5) }, fields: ['activeLeafId'] };
        // B: a rename at second 9 and a system prompt at 7, from its stale copy (no active leaf).
        const edit: Mutation = {
          kind: 'conversation.upsert',
          row: { ...c, title: 'renamed on B', systemPrompt: 'be brief', updatedAt: at(9) },
          fields: ['title', 'systemPrompt'],
        };
        const [first, second] = order === 'turn first' ? [turn, edit] : [edit, turn];
        await pushBatch(remote.target, [first]);
        const last = await pushBatch(remote.target, [second]);
        expect(await rowOf(database, c.id), order).toEqual({
          title: 'renamed on B',
          active_leaf_id: 'leaf-from-A',
          model: null,
          system_prompt: 'be brief',
          updated_at: at(9),
        });
        // The last pusher sent a row missing the other's change: it is told what PostgreSQL kept.
        expect(last.merged.map((r) => r.id), order).toEqual([c.id]);
      }
    } finally {
      await remote.close();
    }
  });

  it('a whole-row write (import, carry-over) is merged field by field too, and a replay changes nothing', async () => {
    const database = await pg.createDatabase();
    const remote = await remoteDb(database);
    try {
      const c = conversation('imported', 1);
      const batch: Mutation[] = [{ kind: 'conversation.upsert', row: c }];
      await pushBatch(remote.target, batch);
      await pushBatch(remote.target, [{ kind: 'conversation.upsert', row: { ...c, model: 'picked', updatedAt: at(8) }, fields: ['model'] }]);
      // The same import replayed (an outbox row pushed twice after a crash): older than the pick.
      const replay = await pushBatch(remote.target, batch);
      expect(await rowOf(database, c.id)).toMatchObject({ title: 'imported', model: 'picked', updated_at: at(8) });
      expect(replay.merged).toEqual([expect.objectContaining({ id: c.id, model: 'picked' })]);
      expect(await pg.query(database, 'SELECT count(*)::int AS n FROM conversations')).toEqual([{ n: 1 }]);
    } finally {
      await remote.close();
    }
  });
});

describe('two replicas, one PostgreSQL: the newest edit wins everywhere', () => {
  it('an older local rename that replicates last gives way, and its replica takes the kept title', async () => {
    const database = await pg.createDatabase();
    const dirA = tempDir('orchestra-merge-a-');
    const dirB = tempDir('orchestra-merge-b-');
    dirs.push(dirA.remove, dirB.remove);
    const a = await openReplicated(pg.url(database), dirA.dir);
    const b = await openReplicated(pg.url(database), dirB.dir);
    try {
      const c = conversation('shared', 0);
      await a.store.apply([{ kind: 'conversation.upsert', row: c }]);
      await waitFor('B has the conversation', async () => (await b.store.getConversation(c.id))?.title === 'shared');

      // A renames at second 20; it reaches PostgreSQL.
      await a.store.apply([{ kind: 'conversation.upsert', row: { ...c, title: 'renamed on A', updatedAt: at(20) }, fields: ['title'] }]);
      await waitFor('A pushed', async () => (await rowOf(database, c.id))?.title === 'renamed on A');
      // B's rename was made at second 10 but replicates only now, and B's chat turn (second 25)
      // moved the active leaf, a field A did not touch.
      await b.store.apply([
        { kind: 'conversation.upsert', row: { ...c, title: 'renamed on B', updatedAt: at(10) }, fields: ['title'] },
        { kind: 'conversation.upsert', row: { ...c, title: 'renamed on B', activeLeafId: 'leaf-b', updatedAt: at(25) }, fields: ['activeLeafId'] },
      ]);
      await waitFor('B pushed', () => b.store.health().pendingSync === 0);

      // The title B pushed carries the stamp of its last write (25) in this batch, so B's rename
      // wins over A's (20): write time decides per field, not push order.
      const expected = { title: 'renamed on B', activeLeafId: 'leaf-b' };
      expect(await rowOf(database, c.id)).toMatchObject({ title: expected.title, active_leaf_id: expected.activeLeafId });

      // Now A renames again, later than anything B wrote, and B renames with an older time.
      await a.store.apply([{ kind: 'conversation.upsert', row: { ...c, title: 'final on A', activeLeafId: 'leaf-b', updatedAt: at(40) }, fields: ['title'] }]);
      await waitFor('A pushed again', async () => (await rowOf(database, c.id))?.title === 'final on A');
      await b.store.apply([{ kind: 'conversation.upsert', row: { ...c, title: 'stale on B', activeLeafId: 'leaf-b', updatedAt: at(30) }, fields: ['title'] }]);
      await waitFor('B pushed again', () => b.store.health().pendingSync === 0);
      expect(await rowOf(database, c.id)).toMatchObject({ title: 'final on A', active_leaf_id: 'leaf-b', updated_at: at(40) });
      await waitFor('A and B serve the kept row', async () => {
        const [ta, tb] = await Promise.all([a.store.getConversation(c.id), b.store.getConversation(c.id)]);
        return ta?.title === 'final on A' && tb?.title === 'final on A' && tb.activeLeafId === 'leaf-b';
      });
      // B's local replica (what it serves while PostgreSQL is down) holds the kept row too: it
      // does not pull its own pushes back, so it took PostgreSQL's answer to the push.
      await waitFor('A pulled B\'s leaf', () => localRow(dirA.dir, c.id)?.active_leaf_id === 'leaf-b');
      expect(localRow(dirB.dir, c.id)).toEqual({ title: 'final on A', active_leaf_id: 'leaf-b', updated_at: at(40) });
      expect(localRow(dirA.dir, c.id)).toEqual({ title: 'final on A', active_leaf_id: 'leaf-b', updated_at: at(40) });
    } finally {
      await b.close();
      await a.close();
    }
  });
});
