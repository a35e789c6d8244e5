#!/usr/bin/env node
// fhir.js - an HTTPS FHIR R4 server for pam_fhir's integration tests, built
// on @asymmetrik/node-fhir-server-core, on 127.0.0.1.
//
// Usage: node src/fhir.js --key KEY.pem --cert CERT.pem --issuer URL
//          [--ca CA.pem] [--port N] [--port-file F] [--log EVENTS.jsonl]
//          [--client-id fhir-rs] [--client-secret rs-secret]
//          [--introspection-endpoint URL] [--require-scope on|off]
//          [--require-token on|off] [--challenge bearer|none|basic]
//          [--dpop on|nonce|off] [--dpop-nonce-ttl S]
//
// Environment: FA_FHIR_PORT, FA_FHIR_PORT_FILE, FA_FHIR_KEY, FA_FHIR_CERT,
// FA_FHIR_CA, FA_FHIR_ISSUER, FA_FHIR_LOG, FA_FHIR_CLIENT_ID,
// FA_FHIR_CLIENT_SECRET (command line wins).
//
//   GET /fhir/metadata                       open: CapabilityStatement
//   GET /fhir/.well-known/smart-configuration open: SMART configuration
//   GET /fhir/Patient/:id                    bearer token required
//   GET /fhir/Patient                        bearer token required (search)
//
// Bearer tokens are checked on every request by calling the AS's
// introspection endpoint (RFC 7662) as the confidential client fhir-rs; no
// cache, so a revoked or expired token is refused at once.  A missing,
// inactive or expired token, or a refresh token, gets 401 with
// `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 §3.1); a token
// without a scope that allows reading gets 403 insufficient_scope; an AS
// that cannot be asked gets 503.  (fhir-server-core's bundled SMART
// strategy answers an inactive token with 500, so the check is our own.)
//
// --require-token off (tests/integration/smart-launcher.t only): no token
// is asked for or checked, and --issuer is not needed.  The server is then
// the upstream of the SMART launcher's FHIR proxy, which checks the tokens
// it issued itself and forwards requests without them.
//
// --challenge (tests/integration/curl-api.t only) is what a 401 carries:
// bearer (the default, RFC 6750), none (no WWW-Authenticate at all, as
// some proxies answer, the SMART launcher's among them) or basic (only a
// challenge of another scheme).
//
// --dpop (default off: only Bearer, and a DPoP-bound token, whose
// introspection says token_type "DPoP", is refused as before) makes the
// server take DPoP-bound tokens (RFC 9449 §7) as well as bearer tokens:
// "Authorization: DPoP TOKEN" with one "DPoP: PROOF" header.  The proof
// must be a JWT with typ dpop+jwt, a public JWK in its header (no private
// parts), a valid signature by that key (ES256, ES384, EdDSA, RS256,
// PS256), htm = the request's method, htu = https://HOST/PATH of the
// request (the Host header it came with, no query or fragment; a query or
// fragment in htu is ignored), iat within 60 s of now, a jti not seen in
// the last 120 s, ath = base64url(SHA-256(the access token)), and the
// key's RFC 7638 thumbprint equal to the token's cnf.jkt from
// introspection.  A failure is 401 with `WWW-Authenticate: DPoP
// error="invalid_dpop_proof"` (the proof) or `error="invalid_token"` (the
// token: inactive, expired, not DPoP-bound), with an error_description.
// A DPoP-bound token presented as Bearer is 401 invalid_token.  A 401
// without any token carries two challenges: `Bearer realm="fhir"` and
// `DPoP algs="..."`.  With "nonce" the proof must also carry this
// server's current nonce (its own, not the AS's): otherwise 401
// `WWW-Authenticate: DPoP error="use_dpop_nonce"` with a `DPoP-Nonce`
// header; a nonce is good for --dpop-nonce-ttl S (default 60) after the
// next one replaced it, and every answer to a proof with an older nonce
// than the current one carries the current one in DPoP-Nonce.

import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';

import core from '@asymmetrik/node-fhir-server-core';
import { jwtVerify, EmbeddedJWK, calculateJwkThumbprint } from 'jose';

const { Server, constants } = core;
const R4 = constants.VERSIONS['4_0_1'];

// A mistake in the options: reported without a stack trace.
function usageError(message) {
  const err = new Error(message);
  err.usage = true;
  return err;
}

function parseArgs(argv) {
  const map = {
    '--port': 'port',
    '--port-file': 'portFile',
    '--pid-file': 'pidFile',
    '--key': 'key',
    '--cert': 'cert',
    '--ca': 'ca',
    '--issuer': 'issuer',
    '--log': 'log',
    '--client-id': 'clientId',
    '--client-secret': 'clientSecret',
    '--introspection-endpoint': 'introspectionEndpoint',
    '--require-scope': 'requireScope',
    '--require-token': 'requireToken',
    '--challenge': 'challenge',
    '--dpop': 'dpop',
    '--dpop-nonce-ttl': 'dpopNonceTtl',
  };
  const out = {};
  for (let i = 0; i < argv.length; i += 1) {
    let arg = argv[i];
    let value;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const name = map[arg];
    if (!name) throw usageError(`unknown option ${arg}`);
    if (value === undefined) {
      i += 1;
      if (i >= argv.length) throw usageError(`option ${arg} needs a value`);
      value = argv[i];
    }
    out[name] = value;
  }
  return out;
}

function loadConfig() {
  const env = process.env;
  const conf = {
    port: env.FA_FHIR_PORT || 0,
    portFile: env.FA_FHIR_PORT_FILE,
    pidFile: env.FA_FHIR_PID_FILE,
    key: env.FA_FHIR_KEY,
    cert: env.FA_FHIR_CERT,
    ca: env.FA_FHIR_CA,
    issuer: env.FA_FHIR_ISSUER,
    log: env.FA_FHIR_LOG,
    clientId: env.FA_FHIR_CLIENT_ID || 'fhir-rs',
    clientSecret: env.FA_FHIR_CLIENT_SECRET || 'rs-secret',
    introspectionEndpoint: env.FA_FHIR_INTROSPECTION_ENDPOINT,
    requireScope: 'on',
    requireToken: 'on',
    challenge: 'bearer',
    dpop: 'off',
    dpopNonceTtl: 60,
    ...parseArgs(process.argv.slice(2)),
  };
  conf.port = Number(conf.port);
  if (!Number.isInteger(conf.port) || conf.port < 0) throw usageError('bad port');
  if (!conf.key || !conf.cert) throw usageError('--key and --cert are required');
  const off = (v) => ['off', 'no', 'false', '0'].includes(String(v).toLowerCase());
  conf.requireScope = !off(conf.requireScope);
  conf.requireToken = !off(conf.requireToken);
  if (!['bearer', 'none', 'basic'].includes(conf.challenge)) throw usageError('--challenge: bearer, none or basic');
  conf.dpop = String(conf.dpop).toLowerCase();
  if (!['on', 'nonce', 'off'].includes(conf.dpop)) throw usageError('--dpop: on, nonce or off');
  conf.dpopNonceTtl = Number(conf.dpopNonceTtl);
  if (!Number.isInteger(conf.dpopNonceTtl) || conf.dpopNonceTtl < 1) {
    throw usageError('--dpop-nonce-ttl: a whole number of seconds, at least 1');
  }
  if (conf.requireToken && !conf.issuer && !conf.introspectionEndpoint) {
    throw usageError('--issuer (or --introspection-endpoint) is required');
  }
  return conf;
}

// ------------------------------------------------------------ data

const PATIENTS = {
  example: {
    resourceType: 'Patient',
    id: 'example',
    meta: { versionId: '1', lastUpdated: '2024-01-01T00:00:00Z' },
    active: true,
    name: [{ use: 'official', family: 'Chalmers', given: ['Peter', 'James'] }],
    gender: 'male',
    birthDate: '1974-12-25',
  },
  alice: {
    resourceType: 'Patient',
    id: 'alice',
    meta: { versionId: '1', lastUpdated: '2024-01-01T00:00:00Z' },
    active: true,
    name: [{ use: 'official', family: 'Example', given: ['Alice'] }],
    gender: 'female',
    birthDate: '1980-02-29',
  },
};

const patientService = {
  async searchById(args) {
    const p = PATIENTS[args.id];
    return p ? { ...p } : null;
  },
  async search() {
    const entries = Object.values(PATIENTS).map((resource) => ({ resource }));
    return {
      resourceType: 'Bundle', type: 'searchset', total: entries.length, entry: entries,
    };
  },
};

// ------------------------------------------------------------ helpers

let logFd = null;
function logEvent(obj) {
  if (logFd === null) return;
  fs.writeSync(logFd, `${JSON.stringify({ ts: Date.now() / 1000, ...obj })}\n`);
}

function writeAtomic(file, text) {
  const tmp = `${file}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

function outcome(code, text) {
  return JSON.stringify({
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, details: { text } }],
  });
}

function sendJson(res, status, body, headers = {}) {
  res.writeHead(status, {
    'Content-Type': 'application/fhir+json',
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(body);
}

function postForm(agent, url, form, basic) {
  return new Promise((resolve, reject) => {
    const body = new URLSearchParams(form).toString();
    const req = https.request(url, {
      method: 'POST',
      agent,
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        'Content-Length': Buffer.byteLength(body),
        Accept: 'application/json',
        Authorization: `Basic ${Buffer.from(`${encodeURIComponent(basic[0])}:${encodeURIComponent(basic[1])}`).toString('base64')}`,
      },
      timeout: 5000,
    }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: data }));
    });
    req.on('timeout', () => req.destroy(new Error('introspection timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

function getJson(agent, url) {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { agent, timeout: 5000 }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { data += c; });
      res.on('end', () => {
        if (res.statusCode !== 200) {
          reject(new Error(`${url}: HTTP ${res.statusCode}`));
          return;
        }
        try {
          resolve(JSON.parse(data));
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('discovery timed out')));
    req.on('error', reject);
  });
}

const READ_SCOPE = /^(patient|user|system)\/(\*|Patient)\.(read|\*|c?r[ud]?s?|rs)$/;

// ------------------------------------------------------------ main

async function main() {
  const conf = loadConfig();
  if (conf.log) logFd = fs.openSync(conf.log, 'a', 0o600);
  const agent = new https.Agent({
    ca: conf.ca ? fs.readFileSync(conf.ca) : undefined,
    keepAlive: false,
  });

  let discovery = null;
  async function introspectionEndpoint() {
    if (conf.introspectionEndpoint) return conf.introspectionEndpoint;
    if (!discovery) {
      discovery = await getJson(agent, `${conf.issuer}/.well-known/openid-configuration`);
    }
    if (!discovery.introspection_endpoint) throw new Error('the AS has no introspection endpoint');
    return discovery.introspection_endpoint;
  }

  const server = https.createServer({
    key: fs.readFileSync(conf.key),
    cert: fs.readFileSync(conf.cert),
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(conf.port, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  const base = `https://127.0.0.1:${port}/fhir`;

  const security = conf.issuer ? [
    { url: 'token', valueUri: `${conf.issuer}/token` },
    { url: 'authorize', valueUri: `${conf.issuer}/auth` },
    { url: 'revoke', valueUri: `${conf.issuer}/token/revocation` },
    { url: 'introspect', valueUri: `${conf.issuer}/token/introspection` },
  ] : undefined;

  const fhirServer = new Server({
    profiles: { Patient: { service: patientService, versions: [R4] } },
    security,
    logging: { level: 'error' },
    server: {},
  }).configureMiddleware()
    .configureSession()
    .configureHelmet()
    .configurePassport()
    .setPublicDirectory()
    .setProfileRoutes()
    .setErrorRoutes();
  const { app } = fhirServer;

  function smartConfiguration() {
    return JSON.stringify({
      issuer: conf.issuer,
      token_endpoint: `${conf.issuer}/token`,
      authorization_endpoint: `${conf.issuer}/auth`,
      revocation_endpoint: `${conf.issuer}/token/revocation`,
      introspection_endpoint: `${conf.issuer}/token/introspection`,
      jwks_uri: `${conf.issuer}/jwks`,
      grant_types_supported: ['authorization_code', 'refresh_token', 'password',
        'urn:ietf:params:oauth:grant-type:device_code'],
      token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
      scopes_supported: ['openid', 'offline_access', 'fhirUser', 'launch/patient', 'patient/*.read'],
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      capabilities: ['client-public', 'client-confidential-symmetric', 'context-standalone-patient',
        'permission-offline', 'permission-patient', 'sso-openid-connect'],
    });
  }

  // The headers of a 401 with this Bearer challenge, as --challenge says.
  function challenge(bearer) {
    if (conf.challenge === 'none') return {};
    if (conf.challenge === 'basic') return { 'WWW-Authenticate': 'Basic realm="fhir"' };
    return { 'WWW-Authenticate': bearer };
  }

  // ---------------------------------------------------- DPoP (--dpop)
  const DPOP_ALGS = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'];
  const DPOP_IAT_WINDOW = 60;
  const DPOP_JTI_KEEP = 2 * DPOP_IAT_WINDOW;
  const seenJti = new Map(); // jti -> when it may be forgotten (s)
  let nonces = []; // [current, previous]
  const newNonce = () => crypto.randomBytes(18).toString('base64url');
  if (conf.dpop === 'nonce') {
    nonces = [newNonce()];
    setInterval(() => { nonces = [newNonce(), nonces[0]]; }, conf.dpopNonceTtl * 1000).unref();
  }

  // The proof of a request that presents TOKEN with the DPoP scheme:
  // { thumbprint, nonce (the DPoP-Nonce to send, if any) } or
  // { error, why, nonce }.
  async function checkProof(req, token, pathname) {
    const fail = (why, error = 'invalid_dpop_proof', nonce) => ({ error, why, nonce });
    const proof = req.headers.dpop;
    if (!proof) return fail('no DPoP proof');
    if (typeof proof !== 'string' || proof.includes(',')) return fail('more than one DPoP proof');
    let payload;
    let protectedHeader;
    try {
      ({ payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, {
        typ: 'dpop+jwt', algorithms: DPOP_ALGS,
      }));
    } catch (err) {
      return fail(`bad proof (${err.code || err.message})`);
    }
    const now = Math.floor(Date.now() / 1000);
    if (typeof payload.jti !== 'string' || payload.jti === '') return fail('no jti');
    if (typeof payload.iat !== 'number') return fail('no iat');
    if (Math.abs(now - payload.iat) > DPOP_IAT_WINDOW) return fail('iat out of window');
    if (payload.htm !== req.method) return fail('htm mismatch');
    let htu;
    try {
      htu = new URL(payload.htu);
      htu.search = '';
      htu.hash = '';
    } catch {
      return fail('htu is not a URL');
    }
    let expected;
    try {
      expected = new URL(`https://${req.headers.host}${pathname}`);
    } catch {
      return fail('bad Host header');
    }
    if (htu.href !== expected.href) return fail('htu mismatch');
    const ath = crypto.createHash('sha256').update(token).digest('base64url');
    if (payload.ath !== ath) return fail('ath mismatch');
    let nonce;
    if (conf.dpop === 'nonce') {
      if (typeof payload.nonce !== 'string' || !nonces.includes(payload.nonce)) {
        return fail(payload.nonce === undefined ? 'nonce required' : 'stale nonce',
          'use_dpop_nonce', nonces[0]);
      }
      if (payload.nonce !== nonces[0]) [nonce] = nonces;
    }
    for (const [j, until] of seenJti) {
      if (until > now && seenJti.size < 10000) break;
      seenJti.delete(j);
    }
    if (seenJti.has(payload.jti)) return fail('jti replayed');
    seenJti.set(payload.jti, now + DPOP_JTI_KEEP);
    const thumbprint = await calculateJwkThumbprint(protectedHeader.jwk, 'sha256');
    return { thumbprint, nonce };
  }

  // Returns null when the request may go on, else [status, body, headers].
  async function checkBearer(req, res, pathname) {
    const authz = req.headers.authorization || '';
    const m = /^(Bearer|DPoP)[ ]+([A-Za-z0-9\-._~+/]+=*)$/i.exec(authz);
    if (!authz) {
      const h = challenge('Bearer realm="fhir"');
      if (conf.dpop !== 'off' && h['WWW-Authenticate'] && conf.challenge === 'bearer') {
        h['WWW-Authenticate'] = [h['WWW-Authenticate'], `DPoP algs="${DPOP_ALGS.join(' ')}"`];
      }
      return [401, outcome('login', 'no access token'), h, 'missing'];
    }
    if (!m || (conf.dpop === 'off' && m[1].toLowerCase() !== 'bearer')) {
      return [400, outcome('invalid', 'malformed Authorization header'),
        { 'WWW-Authenticate': 'Bearer realm="fhir", error="invalid_request"' }, 'malformed'];
    }
    const dpop = m[1].toLowerCase() === 'dpop';
    const token = m[2];
    let proof;
    if (dpop) {
      proof = await checkProof(req, token, pathname);
      if (proof.error) {
        const h = {
          'WWW-Authenticate': `DPoP algs="${DPOP_ALGS.join(' ')}", error="${proof.error}", error_description="${proof.why}"`,
        };
        if (proof.nonce) h['DPoP-Nonce'] = proof.nonce;
        return [401, outcome('login', `invalid DPoP proof: ${proof.why}`), h, `dpop: ${proof.why}`];
      }
      if (proof.nonce) res.setHeader('DPoP-Nonce', proof.nonce);
    }
    let answer;
    try {
      const endpoint = await introspectionEndpoint();
      const r = await postForm(agent, endpoint, { token, token_type_hint: 'access_token' },
        [conf.clientId, conf.clientSecret]);
      if (r.status !== 200) throw new Error(`introspection: HTTP ${r.status}`);
      answer = JSON.parse(r.body);
    } catch (err) {
      discovery = null;
      return [503, outcome('transient', `cannot validate the token: ${err.message}`), { 'Retry-After': '1' }, 'as_unreachable'];
    }
    const now = Math.floor(Date.now() / 1000);
    const invalid = (why) => [401, outcome('login', `invalid token: ${why}`),
      dpop ? { 'WWW-Authenticate': `DPoP error="invalid_token", error_description="${why}"` }
        : challenge(`Bearer realm="fhir", error="invalid_token", error_description="${why}"`), why];
    if (answer.active !== true) return invalid('inactive');
    const tokenType = typeof answer.token_type === 'string' ? answer.token_type.toLowerCase() : '';
    const jkt = answer.cnf && typeof answer.cnf.jkt === 'string' ? answer.cnf.jkt : null;
    if (dpop) {
      if (tokenType !== 'dpop' || !jkt) return invalid('not a DPoP-bound token');
      if (jkt !== proof.thumbprint) {
        return [401, outcome('login', 'invalid DPoP proof: the key is not the token\'s'),
          { 'WWW-Authenticate': 'DPoP error="invalid_dpop_proof", error_description="key mismatch"' },
          'dpop: key mismatch'];
      }
    } else if (conf.dpop !== 'off' && (tokenType === 'dpop' || jkt)) {
      return invalid('DPoP-bound token presented as Bearer');
    } else if (tokenType !== 'bearer') {
      return invalid('not an access token');
    }
    if (typeof answer.exp === 'number' && answer.exp <= now) return invalid('expired');
    if (conf.requireScope) {
      const scopes = typeof answer.scope === 'string' ? answer.scope.split(' ') : [];
      if (!scopes.some((s) => READ_SCOPE.test(s))) {
        return [403, outcome('forbidden', 'insufficient scope'),
          { 'WWW-Authenticate': `${dpop ? 'DPoP' : 'Bearer realm="fhir",'} error="insufficient_scope", scope="patient/*.read"` }, 'insufficient_scope'];
      }
    }
    req.faSubject = answer.sub;
    return null;
  }

  server.on('request', async (req, res) => {
    const url = new URL(req.url, base);
    const p = url.pathname;
    const record = (status, why) => logEvent({
      method: req.method, path: p, status, auth: why ?? null,
    });
    if (p !== '/fhir' && !p.startsWith('/fhir/')) {
      record(404);
      sendJson(res, 404, outcome('not-found', `no such path: ${p}`));
      return;
    }
    const rest = p.slice('/fhir'.length) || '/';
    if (rest === '/.well-known/smart-configuration') {
      record(200);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(smartConfiguration());
      return;
    }
    if (rest !== '/metadata' && conf.requireToken) {
      let refusal;
      try {
        refusal = await checkBearer(req, res, p);
      } catch (err) {
        refusal = [500, outcome('exception', err.message), {}, 'error'];
      }
      if (refusal) {
        const [status, body, headers, why] = refusal;
        record(status, why);
        sendJson(res, status, body, headers);
        return;
      }
    }
    let why = 'ok';
    if (rest === '/metadata') why = null;
    else if (!conf.requireToken) why = req.headers.authorization ? 'open, with a token' : 'open';
    res.on('finish', () => record(res.statusCode, why));
    req.url = `/${R4}${rest}${url.search}`;
    app(req, res);
  });

  if (conf.pidFile) writeAtomic(conf.pidFile, `${process.pid}\n`);
  if (conf.portFile) writeAtomic(conf.portFile, `${port}\n`);
  const checking = conf.requireToken
    ? `introspecting at ${conf.introspectionEndpoint || `${conf.issuer} discovery`}` : 'no token required';
  process.stdout.write(`fhir.js: ${base} (${checking})\n`);

  const stop = () => {
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  // Option and configuration mistakes: the message; anything else: the stack.
  const msg = err && err.usage ? err.message : (err && err.stack) || err;
  process.stderr.write(`fhir.js: ${msg}\n`);
  process.exit(err && err.usage ? 2 : 1);
});
