#!/usr/bin/env node
// selftest/dpop.js - a self-check of DPoP (RFC 9449) at as.js (--dpop) and
// fhir.js (--dpop): tokens bound to a key, refresh tokens of a public
// client bound to it, proofs checked and replays refused at both.  Prints
// TAP.
//
// Usage:
//   FA_AS_URL=https://127.0.0.1:PORT FA_FHIR=https://127.0.0.1:PORT/fhir \
//   FA_CA=ca.pem node src/selftest/dpop.js --mode on|nonce
// against an AS started with --dpop MODE --client-credentials on and a
// FHIR server with --dpop MODE in front of it.  With "nonce" both demand
// nonces of their own; with "on" neither sends one.

import {
  plan, ok, is, diag, main, env, request, challenges, newKey, dpopProof, ath, randomId,
} from './lib.js';

const args = process.argv.slice(2);
const mode = args[0] === '--mode' ? args[1] : undefined;
if (!['on', 'nonce'].includes(mode)) {
  process.stderr.write('usage: dpop.js --mode on|nonce\n');
  process.exit(2);
}
const NONCE = mode === 'nonce';

// "STATUS error" of an AS answer (the JSON body's error).
function asStatus(r) {
  const e = r.json && typeof r.json.error === 'string' ? ` ${r.json.error}` : '';
  return `${r.status}${e}`;
}

// "STATUS error" of a FHIR server answer (the DPoP or Bearer challenge's error).
function rsStatus(r) {
  for (const c of challenges(r)) {
    const m = /error="([^"]*)"/.exec(c);
    if (m) return `${r.status} ${m[1]}`;
  }
  return `${r.status}`;
}

async function checks() {
  const as = env('FA_AS_URL');
  const fhir = env('FA_FHIR');
  const disc = (await request('GET', `${as}/.well-known/openid-configuration`)).json;
  const tokenUrl = disc.token_endpoint;
  const key = await newKey('P-256');
  const other = await newKey('P-256');

  plan(NONCE ? 52 : 46);

  ok((disc.dpop_signing_alg_values_supported || []).includes('ES256'),
    'discovery: dpop_signing_alg_values_supported has ES256');

  // The AS, as a client does it: the last DPoP-Nonce it sent is used.
  let asNonce;
  const asPost = async (url, form, k = key, over = {}, header = {}, opts = {}) => {
    const proof = await dpopProof(k, 'POST', url, { nonce: asNonce, ...over }, header);
    const r = await request('POST', url, { form, headers: { DPoP: proof }, ...opts });
    if (r.headers['dpop-nonce']) asNonce = r.headers['dpop-nonce'];
    r.proof = proof;
    return r;
  };
  const passwordForm = {
    grant_type: 'password',
    client_id: 'fhir-cli',
    username: 'alice',
    password: 'alice-secret',
    scope: 'openid offline_access profile patient/*.read',
  };

  let r = await asPost(tokenUrl, passwordForm);
  if (NONCE) {
    is(asStatus(r), '400 use_dpop_nonce', 'AS: a proof without a nonce: 400 use_dpop_nonce');
    ok(typeof r.headers['dpop-nonce'] === 'string' && r.headers['dpop-nonce'].length > 0,
      '... with a DPoP-Nonce header');
    is(challenges(r).length, 0, '... and no WWW-Authenticate (the token endpoint\'s error is the body)');
    r = await asPost(tokenUrl, passwordForm);
  }
  is(asStatus(r), '200', `AS: password grant with a proof${NONCE ? ' with its nonce' : ''}: 200`);
  is(r.json?.token_type, 'DPoP', '... token_type DPoP');
  if (!NONCE) ok(r.headers['dpop-nonce'] === undefined, '... and no DPoP-Nonce header (no nonces)');
  const at = r.json?.access_token ?? 'none';
  const rt = r.json?.refresh_token ?? 'none';
  ok(typeof r.json?.refresh_token === 'string', '... with a refresh token');

  const introspect = (token) => request('POST', disc.introspection_endpoint, {
    basic: ['fhir-rs', 'rs-secret'], form: { token },
  });
  r = await introspect(at);
  ok(r.json?.active === true && r.json?.token_type === 'DPoP' && r.json?.cnf?.jkt === key.thumbprint,
    'introspection: active, token_type DPoP, cnf.jkt = the key\'s thumbprint', r.json);
  r = await introspect(rt);
  is(r.json?.cnf?.jkt, key.thumbprint, 'introspection: the refresh token is bound to the key (cnf.jkt)');

  const refreshForm = (token) => ({ grant_type: 'refresh_token', client_id: 'fhir-cli', refresh_token: token });
  r = await asPost(tokenUrl, refreshForm(rt), other);
  is(asStatus(r), '400 invalid_grant', 'AS: refresh with a proof of another key: invalid_grant');
  r = await request('POST', tokenUrl, { form: refreshForm(rt) });
  is(asStatus(r), '400 invalid_grant', 'AS: refresh without a proof: invalid_grant');
  r = await asPost(tokenUrl, refreshForm(rt));
  is(asStatus(r), '200', 'AS: refresh with a proof of the key: 200');
  is(r.json?.token_type, 'DPoP', '... token_type DPoP');
  const usedProof = r.proof;
  const rt2 = r.json?.refresh_token ?? 'none';
  r = await introspect(r.json?.access_token ?? 'none');
  is(r.json?.cnf?.jkt, key.thumbprint, '... the new access token bound to the same key');
  r = await request('POST', tokenUrl, { form: refreshForm(rt2), headers: { DPoP: usedProof } });
  is(asStatus(r), '400 invalid_grant', 'AS: the same proof again (jti replayed): invalid_grant');

  // Proofs the AS refuses.
  const bad = async (name, over, header, k = key) => {
    const r0 = await asPost(tokenUrl, passwordForm, k, over, header);
    is(asStatus(r0), '400 invalid_dpop_proof', `AS: ${name}: 400 invalid_dpop_proof`);
  };
  await bad('htu another endpoint', { htu: `${as}/token/revocation` });
  await bad('htm GET', { htm: 'GET' });
  await bad('typ JWT', {}, { typ: 'JWT' });
  await bad('signed by another key than its jwk', {}, {}, { ...key, signWith: other.privateKey });
  const now = Math.floor(Date.now() / 1000);
  if (NONCE) {
    r = await asPost(tokenUrl, passwordForm, key, { nonce: randomId() });
    is(asStatus(r), '400 use_dpop_nonce', 'AS: a nonce it never gave: use_dpop_nonce');
    ok(typeof r.headers['dpop-nonce'] === 'string', '... with a DPoP-Nonce header');
    r = await asPost(tokenUrl, passwordForm, key, { iat: now - 600 });
    diag(`AS: a proof with its nonce and iat 10 minutes old: ${asStatus(r)} (oidc-provider checks iat only without a nonce)`);
    ok(true, 'AS: (a proof with an old iat and a good nonce, see the line above)');
  } else {
    await bad('iat 10 minutes old', { iat: now - 600 });
    r = await asPost(tokenUrl, passwordForm, key, { nonce: randomId() });
    is(asStatus(r), '400 invalid_dpop_proof', 'AS: a nonce when it gives none: invalid_dpop_proof');
  }

  // A confidential client's refresh token is not bound (oidc-provider
  // binds only a public client's): each refresh binds to its own proof.
  r = await asPost(tokenUrl, { ...passwordForm, client_id: undefined }, key, {}, {},
    { basic: ['fhir-conf', 'conf-secret'] });
  const confRt = r.json?.refresh_token ?? 'none';
  r = await introspect(confRt);
  ok(r.json?.active === true && r.json?.cnf === undefined,
    'AS: a confidential client\'s refresh token (fhir-conf) is not bound', r.json);
  r = await asPost(tokenUrl, { ...refreshForm(confRt), client_id: undefined }, other, {}, {},
    { basic: ['fhir-conf', 'conf-secret'] });
  r = await introspect(r.json?.access_token ?? 'none');
  is(r.json?.cnf?.jkt, other.thumbprint, '... its refresh with another key: a token bound to that key');

  r = await request('POST', tokenUrl, { form: passwordForm });
  is(r.json?.token_type, 'Bearer', 'AS: password grant without a proof: token_type Bearer');
  const bearer = r.json?.access_token ?? 'none';

  r = await asPost(tokenUrl, { grant_type: 'client_credentials', scope: 'system/*.rs' }, key, {}, {},
    { basic: ['fhir-conf', 'conf-secret'] });
  ok(r.status === 200 && r.json?.token_type === 'DPoP', 'AS: client_credentials with a proof: token_type DPoP', asStatus(r));
  const ccToken = r.json?.access_token ?? 'none';
  r = await introspect(ccToken);
  is(r.json?.cnf?.jkt, key.thumbprint, '... bound to the key');

  // UserInfo takes a DPoP-bound token only with the DPoP scheme and a proof.
  const userinfo = disc.userinfo_endpoint;
  const uiProof = async () => dpopProof(key, 'GET', userinfo, { nonce: asNonce, ath: ath(at) });
  r = await request('GET', userinfo, { headers: { Authorization: `DPoP ${at}`, DPoP: await uiProof() } });
  if (r.headers['dpop-nonce']) asNonce = r.headers['dpop-nonce'];
  if (r.status === 401 && NONCE) {
    diag('UserInfo: 401 with the token endpoint\'s nonce, retried with its own');
    r = await request('GET', userinfo, { headers: { Authorization: `DPoP ${at}`, DPoP: await uiProof() } });
  }
  ok(r.status === 200 && r.json?.sub === 'alice-0001', 'UserInfo: DPoP scheme with a proof: 200', `${r.status} ${challenges(r)}`);
  r = await request('GET', userinfo, { headers: { Authorization: `Bearer ${at}` } });
  diag(`UserInfo: the DPoP-bound token as Bearer: ${r.status} ${challenges(r).join(' | ')}`);
  is(r.status, 401, 'UserInfo: the DPoP-bound token as Bearer: 401');

  // ---------------------------------------------------------- the FHIR server
  const patient = `${fhir}/Patient/example`;
  let rsNonce;
  const rsGet = async (url, token, over = {}, k = key, header = {}, htuUrl = url) => {
    const proof = await dpopProof(k, 'GET', htuUrl, { nonce: rsNonce, ath: ath(token), ...over }, header);
    const r0 = await request('GET', url, { headers: { Authorization: `DPoP ${token}`, DPoP: proof } });
    if (r0.headers['dpop-nonce']) rsNonce = r0.headers['dpop-nonce'];
    r0.proof = proof;
    return r0;
  };

  r = await request('GET', patient);
  const ch = challenges(r);
  ok(r.status === 401 && ch.length === 2 && ch[0] === 'Bearer realm="fhir"' && /^DPoP algs="[^"]*ES256/.test(ch[1]),
    'FHIR: no token: 401 with a Bearer and a DPoP challenge', ch);

  r = await rsGet(patient, at);
  if (NONCE) {
    is(rsStatus(r), '401 use_dpop_nonce', 'FHIR: a proof without its nonce: 401 use_dpop_nonce');
    ok(typeof r.headers['dpop-nonce'] === 'string' && r.headers['dpop-nonce'] !== asNonce,
      '... with a DPoP-Nonce of its own (not the AS\'s)');
    r = await rsGet(patient, at);
  }
  is(r.status, 200, 'FHIR: DPoP token with a good proof: 200');
  r = await request('GET', patient, { headers: { Authorization: `DPoP ${at}`, DPoP: r.proof } });
  is(rsStatus(r), '401 invalid_dpop_proof', 'FHIR: the same proof again (jti replayed): 401 invalid_dpop_proof');
  ok(/error_description="jti replayed"/.test(challenges(r)[0] || ''), '... "jti replayed"', challenges(r));

  r = await rsGet(patient, at, {}, key, {}, `${fhir}/Patient/alice`);
  is(rsStatus(r), '401 invalid_dpop_proof', 'FHIR: a proof for another URL: 401 invalid_dpop_proof');
  r = await rsGet(`${fhir}/Patient?name=x`, at, {}, key, {}, `${fhir}/Patient`);
  is(r.status, 200, 'FHIR: a request with a query, htu without it: 200');
  r = await rsGet(patient, at, { htu: patient.replace('https:', 'http:') });
  is(rsStatus(r), '401 invalid_dpop_proof', 'FHIR: htu with http: 401 invalid_dpop_proof');
  r = await rsGet(patient, at, { htm: 'POST' });
  is(rsStatus(r), '401 invalid_dpop_proof', 'FHIR: htm POST for a GET: 401 invalid_dpop_proof');
  r = await rsGet(patient, at, { ath: ath(bearer) });
  is(rsStatus(r), '401 invalid_dpop_proof', 'FHIR: ath of another token: 401 invalid_dpop_proof');
  r = await rsGet(patient, at, { ath: undefined });
  is(rsStatus(r), '401 invalid_dpop_proof', 'FHIR: no ath: 401 invalid_dpop_proof');
  r = await rsGet(patient, at, { iat: Math.floor(Date.now() / 1000) - 300 });
  is(rsStatus(r), '401 invalid_dpop_proof', 'FHIR: iat 5 minutes old: 401 invalid_dpop_proof');
  r = await rsGet(patient, at, {}, key, { typ: 'JWT' });
  is(rsStatus(r), '401 invalid_dpop_proof', 'FHIR: typ JWT: 401 invalid_dpop_proof');
  const privJwk = { ...key.publicJwk, d: 'AAAA' };
  r = await rsGet(patient, at, {}, key, { jwk: privJwk });
  is(rsStatus(r), '401 invalid_dpop_proof', 'FHIR: a private key in the jwk header: 401 invalid_dpop_proof');
  r = await rsGet(patient, at, {}, other);
  is(rsStatus(r), '401 invalid_dpop_proof', 'FHIR: a good proof by another key than the token\'s: 401 invalid_dpop_proof');
  r = await request('GET', patient, { headers: { Authorization: `DPoP ${at}` } });
  is(rsStatus(r), '401 invalid_dpop_proof', 'FHIR: DPoP scheme without a proof: 401 invalid_dpop_proof');
  r = await request('GET', patient, { headers: { Authorization: `Bearer ${at}` } });
  is(rsStatus(r), '401 invalid_token', 'FHIR: the DPoP-bound token as Bearer: 401 invalid_token');
  r = await rsGet(patient, bearer);
  is(rsStatus(r), '401 invalid_token', 'FHIR: an unbound token with the DPoP scheme: 401 invalid_token');
  r = await request('GET', patient, { headers: { Authorization: `Bearer ${bearer}` } });
  is(r.status, 200, 'FHIR: an unbound token as Bearer: 200');
  r = await rsGet(patient, ccToken);
  is(r.status, 200, 'FHIR: the client_credentials DPoP token with a proof: 200');
  if (NONCE) {
    r = await rsGet(patient, at, { nonce: randomId() });
    ok(rsStatus(r) === '401 use_dpop_nonce' && typeof r.headers['dpop-nonce'] === 'string',
      'FHIR: a nonce it never gave: 401 use_dpop_nonce with a DPoP-Nonce', rsStatus(r));
    r = await rsGet(patient, at, { nonce: asNonce });
    is(rsStatus(r), '401 use_dpop_nonce', 'FHIR: the AS\'s nonce: 401 use_dpop_nonce');
  } else {
    ok(r.headers['dpop-nonce'] === undefined, 'FHIR: no DPoP-Nonce header (no nonces)');
  }
}

main(checks);
