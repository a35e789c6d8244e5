// selftest/lib.js - what the self-checks of the test servers share: TAP
// output, HTTPS requests that trust the test CA, DPoP proofs and client
// assertions made with jose (which oidc-provider brings).
//
// The self-checks (dpop.js, pkjwt.js) take the servers from the
// environment lib.sh exports: FA_AS_URL (the AS), FA_FHIR (the FHIR base,
// optional), FA_CA (the test CA).

import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';

import {
  SignJWT, exportJWK, calculateJwkThumbprint, importJWK,
} from 'jose';

// ------------------------------------------------------------ TAP

let count = 0;
let failed = 0;

export function plan(n) {
  process.stdout.write(`1..${n}\n`);
}

export function diag(...lines) {
  for (const l of lines.join('\n').split('\n')) process.stdout.write(`# ${l}\n`);
}

export function ok(cond, name, detail) {
  count += 1;
  process.stdout.write(`${cond ? 'ok' : 'not ok'} ${count} - ${name}\n`);
  if (!cond) {
    failed += 1;
    if (detail !== undefined) {
      diag(typeof detail === 'string' ? detail : JSON.stringify(detail));
    }
  }
  return cond;
}

export function is(got, want, name) {
  return ok(got === want, name, `got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

// An answer's status and (for a JSON error) its error code, "400
// invalid_grant", so that a failing check shows what came back.
export function statusOf(r) {
  const e = r.json && typeof r.json.error === 'string' ? ` ${r.json.error}` : '';
  return `${r.status}${e}`;
}

export function done() {
  if (failed) diag(`${failed} of ${count} failed`);
  process.exitCode = failed ? 1 : 0;
}

// Run the checks; an exception is a failure, not a crash without TAP.
export function main(fn) {
  fn().then(done, (err) => {
    process.stdout.write(`not ok ${count + 1} - the self-check ran to its end\n`);
    diag(String(err && err.stack ? err.stack : err));
    process.exitCode = 1;
  });
}

// ------------------------------------------------------------ environment

export function env(name, required = true) {
  const v = process.env[name];
  if (required && !v) throw new Error(`${name} is not set (lib.sh exports it)`);
  return v;
}

let caCache;
function ca() {
  if (caCache === undefined) caCache = fs.readFileSync(env('FA_CA'));
  return caCache;
}

// ------------------------------------------------------------ HTTP

// request(method, url, { headers, form, basic }) -> { status, headers, body, json }
export function request(method, url, opts = {}) {
  return new Promise((resolve, reject) => {
    const headers = { Accept: 'application/json', ...(opts.headers || {}) };
    let body;
    if (opts.form) {
      const form = Object.fromEntries(Object.entries(opts.form).filter(([, v]) => v !== undefined));
      body = new URLSearchParams(form).toString();
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    if (opts.basic) {
      const [u, p] = opts.basic;
      headers.Authorization = `Basic ${Buffer.from(`${encodeURIComponent(u)}:${encodeURIComponent(p)}`).toString('base64')}`;
    }
    const req = https.request(url, {
      method, headers, ca: ca(), agent: false, timeout: 5000,
    }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { data += c; });
      res.on('end', () => {
        let json;
        try {
          json = JSON.parse(data);
        } catch {
          json = undefined;
        }
        resolve({
          status: res.statusCode, headers: res.headers, rawHeaders: res.rawHeaders, body: data, json,
        });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

// The WWW-Authenticate header lines of an answer, as an array (node joins
// repeated headers in res.headers: the raw ones are kept apart).
export function challenges(r) {
  const out = [];
  for (let i = 0; i + 1 < r.rawHeaders.length; i += 2) {
    if (r.rawHeaders[i].toLowerCase() === 'www-authenticate') out.push(r.rawHeaders[i + 1]);
  }
  return out;
}

// ------------------------------------------------------------ keys

// A new key pair as { privateKey, publicJwk, thumbprint, alg }.
export async function newKey(kind = 'P-256') {
  let pair;
  let alg;
  if (kind === 'RSA') {
    pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    alg = 'RS256';
  } else {
    pair = crypto.generateKeyPairSync('ec', { namedCurve: kind });
    alg = kind === 'P-384' ? 'ES384' : 'ES256';
  }
  const publicJwk = await exportJWK(pair.publicKey);
  return {
    privateKey: pair.privateKey,
    publicJwk,
    thumbprint: await calculateJwkThumbprint(publicJwk, 'sha256'),
    alg,
  };
}

export function randomId() {
  return crypto.randomBytes(16).toString('base64url');
}

export function ath(token) {
  return crypto.createHash('sha256').update(token).digest('base64url');
}

// A DPoP proof (RFC 9449 §4.2) for METHOD URL; over: claims to change or
// (with undefined) leave out; header: header fields to change.
export async function dpopProof(key, method, url, over = {}, header = {}) {
  const claims = {
    htm: method,
    htu: url,
    iat: Math.floor(Date.now() / 1000),
    jti: randomId(),
    ...over,
  };
  for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
  const hdr = {
    typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk, ...header,
  };
  for (const k of Object.keys(hdr)) if (hdr[k] === undefined) delete hdr[k];
  return new SignJWT(claims).setProtectedHeader(hdr).sign(key.signWith || key.privateKey);
}

// A client assertion (RFC 7523 §2.2) signed with the private JWK PRIV
// (with its kid) as ALG; over: claims to change or leave out.
export async function clientAssertion(priv, alg, clientId, aud, over = {}) {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: clientId,
    sub: clientId,
    aud,
    jti: randomId(),
    iat: now,
    exp: now + 60,
    ...over,
  };
  for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
  const key = await importJWK(priv, alg);
  return new SignJWT(claims).setProtectedHeader({ alg, kid: priv.kid, typ: 'JWT' }).sign(key);
}
