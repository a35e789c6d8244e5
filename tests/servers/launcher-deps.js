#!/usr/bin/env node
// launcher-deps.js - the npm packages the SMART launcher's backend needs at
// run time, pinned by the launcher's own package-lock.json.
//
// Usage: node launcher-deps.js LAUNCHER/package-lock.json OUTDIR
//
// The launcher (github.com/smart-on-fhir/smart-launcher-v2) lists its React
// front end's build tools among its dependencies too (some 2,000 packages
// in all), so `npm ci --omit=dev` in its tree would install them all.  The
// backend, run with ts-node --transpile-only, requires only the packages in
// ROOTS.  This writes OUTDIR/package.json with those, at the versions the
// launcher's lockfile installs, and OUTDIR/package-lock.json with the
// lockfile's entries they need (their dependencies and peers, resolved as
// node does: nested node_modules first, then upwards), without their
// "resolved" download URLs.
// `npm ci` in OUTDIR then installs exactly those copies (from the
// registry npm is configured with, checked against the lockfile's
// integrity hashes).  Nothing of it is
// committed: scripts/install-deps writes OUTDIR in a git-ignored place.

import fs from 'node:fs';
import path from 'node:path';

// What backend/ and src/isomorphic/ import (type-only imports are erased by
// --transpile-only), and ts-node with its compiler.  pem is left out: the
// backend loads it only with SSL_PORT set, and tests/servers/src/
// launcher-tls.js does TLS itself.
const ROOTS = ['express', 'cors', 'jsonwebtoken', 'node-jose', 'cross-fetch',
  'ts-node', 'typescript', '@types/node'];

function main() {
  const [lockFile, outDir] = process.argv.slice(2);
  if (!lockFile || !outDir) {
    process.stderr.write('usage: launcher-deps.js LAUNCHER/package-lock.json OUTDIR\n');
    process.exit(2);
  }
  const lock = JSON.parse(fs.readFileSync(lockFile, 'utf8'));
  const pkgs = lock.packages;
  if (!pkgs || !pkgs['']) throw new Error(`${lockFile}: not an npm lockfile of version 2 or 3`);

  // Where node finds package NAME required from the package at FROM (a
  // lockfile key: "" or "node_modules/a/node_modules/b").
  function resolve(from, name) {
    let dir = from;
    for (;;) {
      const key = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
      if (pkgs[key]) return key;
      if (!dir) return null;
      const i = dir.lastIndexOf('/node_modules/');
      dir = i < 0 ? '' : dir.slice(0, i);
    }
  }

  const keep = new Set();
  const todo = [];
  const want = (from, name, optional) => {
    const key = resolve(from, name);
    if (!key) {
      if (optional) return;
      throw new Error(`${lockFile}: ${name} (needed by ${from || 'the launcher'}) is not in the lockfile`);
    }
    if (!keep.has(key)) {
      keep.add(key);
      todo.push(key);
    }
  };
  const dependencies = {};
  for (const name of ROOTS) {
    want('', name, false);
    dependencies[name] = pkgs[`node_modules/${name}`].version;
  }
  while (todo.length) {
    const key = todo.pop();
    const e = pkgs[key];
    for (const name of Object.keys(e.dependencies || {})) want(key, name, false);
    for (const name of Object.keys(e.optionalDependencies || {})) want(key, name, true);
    const peerMeta = e.peerDependenciesMeta || {};
    for (const name of Object.keys(e.peerDependencies || {})) {
      want(key, name, true);
      if (!peerMeta[name]?.optional && !resolve(key, name)) {
        throw new Error(`${lockFile}: peer ${name} of ${key} is not in the lockfile`);
      }
    }
  }

  const root = {
    name: 'smart-launcher-backend-deps',
    version: pkgs[''].version || '0.0.0',
    private: true,
    description: 'The npm packages of the SMART launcher backend, from its package-lock.json (written by tests/servers/launcher-deps.js)',
    dependencies,
  };
  const packages = { '': { name: root.name, version: root.version, dependencies } };
  for (const key of [...keep].sort()) {
    const e = { ...pkgs[key] };
    // Flags that described the entry's place in the launcher's tree.
    delete e.dev;
    delete e.devOptional;
    delete e.peer;
    // npm fetches name@version from the configured registry and checks
    // the integrity hash; no download URL is written.
    delete e.resolved;
    packages[key] = e;
  }
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'package.json'), `${JSON.stringify(root, null, 2)}\n`);
  fs.writeFileSync(path.join(outDir, 'package-lock.json'), `${JSON.stringify({
    name: root.name, version: root.version, lockfileVersion: 3, requires: true, packages,
  }, null, 2)}\n`);
  process.stdout.write(`${keep.size} packages\n`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`launcher-deps.js: ${err.message}\n`);
  process.exit(1);
}
