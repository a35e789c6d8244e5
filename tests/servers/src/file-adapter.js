// file-adapter.js - an oidc-provider storage adapter that keeps everything
// (grants, tokens, sessions) in one JSON file, rewritten on every change,
// so an AS stopped and started again (as.js --state-dir) still honours the
// refresh tokens it issued, as a real AS with a database does.  For tests
// only: one process, small stores, no locking between processes.

import fs from 'node:fs';

let file = null;
let store = {}; // key -> { payload, expiresAt (epoch ms, 0 = never) }

function now() {
  return Date.now();
}

function save() {
  const tmp = `${file}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(store), { mode: 0o600 });
  fs.renameSync(tmp, file);
}

function get(key) {
  const e = store[key];
  if (!e) return undefined;
  if (e.expiresAt && e.expiresAt <= now()) {
    delete store[key];
    return undefined;
  }
  return e.payload;
}

function set(key, payload, expiresIn) {
  store[key] = { payload, expiresAt: expiresIn ? now() + expiresIn * 1000 : 0 };
}

// openFileStore PATH: load the store (a missing file is an empty store).
export function openFileStore(path) {
  file = path;
  try {
    store = JSON.parse(fs.readFileSync(path, 'utf8'));
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
    store = {};
  }
}

const grantable = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken',
  'DeviceCode', 'BackchannelAuthenticationRequest']);

export default class FileAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    if (this.model === 'Session') set(`sessionUid:${payload.uid}`, id, expiresIn);
    const { grantId, userCode } = payload;
    if (grantable.has(this.model) && grantId) {
      const gk = `grant:${grantId}`;
      const list = get(gk) || [];
      list.push(key);
      // The grant's index lives as long as its longest member.
      const prev = store[gk];
      const until = Math.max(prev ? prev.expiresAt : 0, expiresIn ? now() + expiresIn * 1000 : 0);
      store[gk] = { payload: list, expiresAt: until };
    }
    if (userCode) set(`userCode:${userCode}`, id, expiresIn);
    set(key, payload, expiresIn);
    save();
  }

  async find(id) {
    return get(this.key(id));
  }

  async findByUid(uid) {
    const id = get(`sessionUid:${uid}`);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = get(`userCode:${userCode}`);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const e = store[this.key(id)];
    if (e) {
      e.payload.consumed = Math.floor(now() / 1000);
      save();
    }
  }

  async destroy(id) {
    delete store[this.key(id)];
    save();
  }

  async revokeByGrantId(grantId) { // eslint-disable-line class-methods-use-this
    const gk = `grant:${grantId}`;
    const list = get(gk);
    if (list) list.forEach((k) => { delete store[k]; });
    delete store[gk];
    save();
  }
}
