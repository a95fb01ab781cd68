// store.js: the subscriptions, in memory and in one JSON file (written whole to a temporary
// file and renamed, so a crash never leaves half a file). A real application keeps them in its
// database, next to the user they belong to; the shape is the same.
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { httpError } from './http_error.js';

// Each subscription belongs to the session that stored it (a hash of the session id, never the
// id itself), so only that session can replace or delete it.
const owner = (sessionId) => createHash('sha256').update(sessionId).digest('base64url');

// A browser holds one subscription per service worker registration; a session with more than
// this is not a browser, and is refused rather than allowed to fill the store.
export const MAX_PER_SESSION = 10;

export class SubscriptionStore {
  constructor(file) {
    this.file = file;
    this.byId = new Map();
    if (file) {
      try {
        for (const s of JSON.parse(readFileSync(file, 'utf8'))) this.byId.set(s.id, s);
      } catch (err) {
        if (err.code !== 'ENOENT') throw new Error(`${file}: ${err.message}`);
      }
    }
  }

  save() {
    if (!this.file) return;
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify([...this.byId.values()], null, 1), { mode: 0o600 });
    renameSync(tmp, this.file);
  }

  findByEndpoint(endpoint) {
    for (const s of this.byId.values()) if (s.endpoint === endpoint) return s;
    return null;
  }

  // put stores `sub` for `sessionId`; with `oldEndpoint` (from `pushsubscriptionchange`) the
  // old subscription of the same session is replaced. Storing an endpoint again updates its
  // keys instead of adding a second copy (a second copy would get every message twice).
  // Throws an Error with an HTTP status (409, 429) when the request may not do that.
  put(sessionId, sub, oldEndpoint) {
    const who = owner(sessionId);
    const existing = this.findByEndpoint(sub.endpoint);
    if (existing && existing.owner !== who) {
      // The same browser under a new session (its cookie expired or was cleared) sends the
      // same endpoint and keys: it takes its subscription over. Anyone else would need the
      // keys too, which only that browser holds; without them nothing changes.
      if (existing.p256dh !== sub.p256dh || existing.auth !== sub.auth) {
        throw httpError(409, 'subscription.endpoint: stored for another session with other keys');
      }
    }
    if (!existing) {
      const mine = this.all().filter((s) => s.owner === who && s.endpoint !== oldEndpoint).length;
      if (mine >= MAX_PER_SESSION) {
        throw httpError(429, `subscription: this session already has ${MAX_PER_SESSION} subscriptions`);
      }
    }
    if (oldEndpoint && oldEndpoint !== sub.endpoint) {
      const old = this.findByEndpoint(oldEndpoint);
      if (old && old.owner === who) this.byId.delete(old.id);
    }
    const record = existing ?? { id: randomUUID(), created: new Date().toISOString() };
    Object.assign(record, { owner: who, endpoint: sub.endpoint, p256dh: sub.p256dh, auth: sub.auth });
    this.byId.set(record.id, record);
    this.save();
    return record;
  }

  // removeOwned deletes the subscription with `endpoint` if `sessionId` owns it.
  removeOwned(sessionId, endpoint) {
    const s = this.findByEndpoint(endpoint);
    return s !== null && s.owner === owner(sessionId) && this.remove(s.id);
  }

  // remove deletes a subscription by our id (one the dispatcher refused as invalid).
  remove(id) {
    if (!this.byId.delete(id)) return false;
    this.save();
    return true;
  }

  // removeGone deletes the subscription the dispatcher reported gone (by our id, the job's
  // target_id), if its endpoint is still the one reported: a subscription renewed meanwhile stays.
  removeGone(id, endpoint) {
    return this.byId.get(id)?.endpoint === endpoint && this.remove(id);
  }

  isOwnedBy(sessionId, endpoint) {
    const s = this.findByEndpoint(endpoint);
    return s !== null && s.owner === owner(sessionId);
  }

  all() {
    return [...this.byId.values()];
  }
}
