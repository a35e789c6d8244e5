#!/usr/bin/env node
// as.js - a real OpenID Connect authorization server (oidc-provider 8.x) for
// pam_fhir's integration tests, over HTTPS on 127.0.0.1.
//
// Usage: node src/as.js [--config FILE.json] [--port N] [--port-file F]
//          [--key KEY.pem] [--cert CERT.pem] [--log EVENTS.jsonl]
//          [--access-ttl S] [--refresh-ttl S] [--rotate on|off]
//          [--auth-methods "client_secret_post ..."] [--pid-file F]
//          [--issuer URL] [--device-ttl S] [--device-interval S]
//          [--device-slow-down N] [--device-control on|off]
//          [--cache-max-age S] [--state-dir DIR] [--id-token-claims JSON]
//          [--claims standard|tuned] [--password-id-token on|off]
//          [--userinfo-sub SUB] [--consent-page on|off]
//          [--dpop on|nonce|off] [--jwt-client-jwks FILE|JSON]
//          [--client-credentials on|off]
//
// Every option may also come from the JSON config file (same names in
// camelCase: port, portFile, key, cert, log, accessTokenTtl, refreshTokenTtl,
// rotateRefreshToken, tokenEndpointAuthMethods, accounts, clients, ...) or
// from the environment (FA_AS_PORT, FA_AS_PORT_FILE, FA_AS_KEY, FA_AS_CERT,
// FA_AS_LOG, FA_AS_ACCESS_TTL, FA_AS_REFRESH_TTL, FA_AS_ROTATE,
// FA_AS_AUTH_METHODS, FA_AS_DEVICE_TTL, FA_AS_DEVICE_INTERVAL,
// FA_AS_DEVICE_SLOW_DOWN, FA_AS_DEVICE_CONTROL, FA_AS_CACHE_MAX_AGE,
// FA_AS_SECRETS_LOG, FA_AS_STATE_DIR, FA_AS_ID_TOKEN_CLAIMS, FA_AS_CLAIMS,
// FA_AS_PASSWORD_ID_TOKEN, FA_AS_USERINFO_SUB, FA_AS_CONSENT_PAGE,
// FA_AS_DPOP, FA_AS_JWT_CLIENT_JWKS, FA_AS_CLIENT_CREDENTIALS).
// Precedence: command
// line > environment > config file > defaults.
//
// --state-dir DIR (FA_AS_STATE_DIR) keeps grants, tokens and sessions in
// DIR/store.json and the signing and cookie keys in DIR/keys.json, so the
// AS can be stopped and started again (same port, same DIR) and still
// honour what it issued, as a real AS with a database does.  Without it
// everything lives in memory and dies with the process.
//
// Device flow (RFC 8628): --device-ttl is the device code's lifetime
// (default 600 s); --device-interval S puts "interval": S into the device
// authorization answer and answers slow_down (§3.5) to a poll that comes
// sooner than the interval after the authorization or the previous poll
// of the same code, adding 5 s to that code's interval each time;
// --device-slow-down N answers slow_down to the first N polls of every
// code whatever their timing (the interval still grows).  With
// --device-control on, POST /test/device-settings (form fields ttl,
// interval (empty: none), slow_down, advertise=on|off (the device
// endpoint in discovery)) changes them at run time, for codes issued
// afterwards, and answers the settings as JSON.
//
// --id-token-claims JSON (a JSON object) puts these claims over every
// account's own, so a test can have a signed id_token carry hostile values
// (control characters in fhirUser, say); they reach the id_token when the
// scope asks for them, as the account's own would.
//
// --cache-max-age S sends "Cache-Control: max-age=S" with the discovery
// document and the JWKS (by default they carry what oidc-provider sends),
// so that clients' caches can be tested against a known lifetime.
//
// Claims (--claims): "standard" (the default) is oidc-provider's own
// configuration, as a real server has it: the id_token of a grant that
// also issues an access token carries only sub and protocol claims
// (conformIdTokenClaims), and preferred_username and name come with the
// profile scope, from the UserInfo endpoint (OIDC Core §5.4).  "tuned"
// puts preferred_username under openid and every granted claim into the
// id_token, for tests about id_token handling itself.  --password-id-token
// off leaves the id_token out of password grant answers, as some servers
// do.  --userinfo-sub SUB makes the UserInfo endpoint answer for SUB (a
// test of the client's sub comparison, OIDC Core §5.3.2).
//
// Consent (--consent-page): off (the default) consents to what the client
// asks for without asking; on shows a page after the sign-in that names
// the client and the scope, with an Allow and a Deny button (Deny is the
// abort: access_denied), as a browser user meets it at a real AS.
//
// DPoP (RFC 9449), --dpop (default off: oidc-provider's feature is
// disabled and a DPoP header is ignored, as before): "on" enables
// features.dPoP without server nonces (no DPoP-Nonce is ever sent, and a
// proof with a nonce is invalid_dpop_proof); "nonce" also makes the AS
// demand a nonce of its own in every proof, at every endpoint that takes
// one (a proof without one, or with one it did not give, is answered 400
// use_dpop_nonce, the error in the JSON body, no WWW-Authenticate, with a
// DPoP-Nonce header; a nonce is oidc-provider's, good for a few minutes,
// and a newer one comes in DPoP-Nonce on answers meanwhile).  A token
// request (password, refresh, device, client_credentials) that carries a
// valid proof gets token_type "DPoP" and an access token bound to the
// proof's key (cnf.jkt in introspection); a public client's refresh token
// is bound too (cnf.jkt when introspected), so a refresh without a proof
// of that key is invalid_grant (a confidential client's is not: each
// refresh binds to its own proof).  Proof jti values are remembered (a
// replay is invalid_grant); a bad proof is 400 invalid_dpop_proof.  A
// request without a proof still gets a Bearer token.  The password grant
// (ours) does what oidc-provider's own grants do.  Proof algorithms:
// oidc-provider's default list (ES256, EdDSA).  UserInfo then takes a
// bound token only as "Authorization: DPoP" with a proof (ath included).
//
// --jwt-client-jwks FILE|JSON (default none) registers the client
// "fhir-jwt" with token_endpoint_auth_method private_key_jwt (RFC 7523,
// OIDC Core §9) whose public keys are this JWK Set (a file, or the JSON
// itself when it starts with "{"); it may use the password, refresh,
// device and (with --client-credentials on) client_credentials grants,
// the device authorization and revocation endpoints.  Assertions may be
// signed RS256, RS384, ES256 or ES384 (enabledJWA.clientAuthSigningAlgValues
// then lists exactly these); aud may be the token endpoint URL, the
// issuer or the endpoint's own URL; a jti used before is refused
// (invalid_client), as oidc-provider always does.
//
// --client-credentials on (default off) enables the client_credentials
// grant (features.clientCredentials) for fhir-conf, fhir-post and fhir-jwt,
// with the SMART Backend Services scopes system/*.rs, system/*.read and
// system/Patient.rs declared.  Its access tokens are opaque (resource
// indicators stay off) and the FHIR server introspects them like any other
// (they have no sub).
//
// Port 0 picks a free port; the chosen port is written to --port-file once
// the server listens (written to a temporary name and renamed, so a reader
// never sees a partial file).  The issuer is exactly https://127.0.0.1:PORT,
// unless --issuer names a reverse proxy in front of this server.
//
// The event log gets one JSON line per token endpoint call, revocation and
// introspection, never a token value (--secrets-log FILE, for leak tests
// only, appends the device codes, authorization codes and PKCE verifiers it
// sees as "NAME VALUE" lines):
//   {"ts":1700000000.123,"event":"token","grant_type":"refresh_token",
//    "client_id":"fhir-cli","ok":true,"error":null}
//   {"ts":...,"event":"revocation","client_id":"fhir-cli","ok":true,...}
//   {"ts":...,"event":"introspection","client_id":"fhir-rs","ok":true,"active":false}
// and one per discovery document and JWKS served:
//   {"ts":...,"event":"discovery","ok":true}   {"ts":...,"event":"jwks","ok":true}
// and one per UserInfo request:
//   {"ts":...,"event":"userinfo","ok":true,"status":200}
// With --dpop on or nonce a token line also has "dpop" (whether the
// request carried a proof) and, when it succeeded, "token_type"; with
// --jwt-client-jwks, "client_assertion" (whether it carried one), as
// have the revocation and device_authorization lines.

import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import querystring from 'node:querystring';

import Provider, { errors } from 'oidc-provider';
// The proof check oidc-provider's own grants use (nonces, replay window),
// for the password grant registered here.
import dpopValidate, { DPOP_OK_WINDOW } from 'oidc-provider/lib/helpers/validate_dpop.js';

import FileAdapter, { openFileStore } from './file-adapter.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

// A mistake in the options: reported without a stack trace.
function usageError(message) {
  const err = new Error(message);
  err.usage = true;
  return err;
}

// ------------------------------------------------------------ configuration

const DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  // null: https://127.0.0.1:PORT.  Set it to the URL of a reverse proxy in
  // front of this server (fault.js), and every URL the AS hands out
  // (discovery, id_token iss) names the proxy.
  issuer: null,
  portFile: null,
  pidFile: null,
  key: null,
  cert: null,
  log: null,
  accessTokenTtl: 3600,
  refreshTokenTtl: 14 * 24 * 3600,
  idTokenTtl: 3600,
  rotateRefreshToken: true,
  strictClientAuth: true,
  // null: oidc-provider's real list.  An array replaces
  // token_endpoint_auth_methods_supported in the discovery document only
  // (each client keeps its registered method, which the AS enforces).
  tokenEndpointAuthMethods: null,
  idTokenAlg: 'RS256',
  // RFC 8628 (see the header): the device code's lifetime, the advertised
  // and enforced polling interval (null: none advertised, nothing
  // enforced), forced slow_down answers per code, the run-time control.
  deviceCodeTtl: 600,
  deviceInterval: null,
  deviceSlowDown: 0,
  deviceControl: false,
  // Cache-Control max-age for discovery and the JWKS (null: unchanged).
  cacheMaxAge: null,
  // Claims put over every account's own (--id-token-claims).
  idTokenClaims: {},
  // "standard" (oidc-provider's defaults: profile claims from UserInfo)
  // or "tuned" (preferred_username under openid, claims in the id_token).
  claims: 'standard',
  // false: the password grant answers without an id_token.
  passwordIdToken: true,
  // null: UserInfo answers for the token's account; a string: for it.
  userinfoSub: null,
  // true: a consent page with Allow and Deny; false: automatic consent.
  consentPage: false,
  // DPoP (RFC 9449): off, on (no server nonces) or nonce (required).
  dpop: 'off',
  // A JWK Set (a file name, JSON text or an object): the public keys of
  // the private_key_jwt client fhir-jwt, registered only then.
  jwtClientJwks: null,
  // The client_credentials grant and the system/* scopes.
  clientCredentials: false,
  // Added to the discovery document (e.g. to drop an endpoint for a test:
  // {"revocation_endpoint": null} removes it).
  discoveryOverrides: {},
  accounts: [
    {
      username: 'alice', password: 'alice-secret', sub: 'alice-0001',
      name: 'Alice Example', patient: 'example', fhirUser: 'Patient/example',
    },
    {
      username: 'bob', password: 'bob-secret', sub: 'bob-0002',
      name: 'Bob Example', patient: 'example', fhirUser: 'Practitioner/bob',
    },
  ],
  secrets: {
    'fhir-conf': 'conf-secret',
    'fhir-post': 'post-secret',
    'fhir-rs': 'rs-secret',
  },
  // Extra clients (oidc-provider client metadata), appended as given.
  extraClients: [],
  scopes: [
    'openid', 'offline_access', 'profile', 'fhirUser', 'launch/patient',
    'patient/*.read', 'patient/*.rs', 'patient/Patient.read', 'user/*.read',
    'user/*.rs', 'system/*.read',
  ],
};

function parseArgs(argv) {
  const out = {};
  const map = {
    '--config': 'config',
    '--port': 'port',
    '--port-file': 'portFile',
    '--pid-file': 'pidFile',
    '--key': 'key',
    '--cert': 'cert',
    '--log': 'log',
    '--access-ttl': 'accessTokenTtl',
    '--refresh-ttl': 'refreshTokenTtl',
    '--rotate': 'rotateRefreshToken',
    '--auth-methods': 'tokenEndpointAuthMethods',
    '--id-token-alg': 'idTokenAlg',
    '--issuer': 'issuer',
    '--device-ttl': 'deviceCodeTtl',
    '--device-interval': 'deviceInterval',
    '--device-slow-down': 'deviceSlowDown',
    '--device-control': 'deviceControl',
    '--secrets-log': 'secretsLog',
    '--cache-max-age': 'cacheMaxAge',
    '--state-dir': 'stateDir',
    '--id-token-claims': 'idTokenClaims',
    '--claims': 'claims',
    '--password-id-token': 'passwordIdToken',
    '--userinfo-sub': 'userinfoSub',
    '--consent-page': 'consentPage',
    '--dpop': 'dpop',
    '--jwt-client-jwks': 'jwtClientJwks',
    '--client-credentials': 'clientCredentials',
  };
  for (let i = 0; i < argv.length; i += 1) {
    let arg = argv[i];
    let value;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(fs.readFileSync(new URL(import.meta.url)).toString()
        .split('\n').slice(1).reduce((acc, l) => {
          // The header comment: the comment lines up to the first other line.
          if (acc.done || !l.startsWith('//')) return { ...acc, done: true };
          acc.lines.push(l);
          return acc;
        }, { lines: [], done: false }).lines
        .map((l) => l.replace(/^\/\/ ?/, ''))
        .join('\n'));
      process.stdout.write('\n');
      process.exit(0);
    }
    const name = map[arg];
    if (!name) {
      throw usageError(`unknown option ${arg}`);
    }
    if (value === undefined) {
      i += 1;
      if (i >= argv.length) throw usageError(`option ${arg} needs a value`);
      value = argv[i];
    }
    out[name] = value;
  }
  return out;
}

function fromEnv(env) {
  const out = {};
  const map = {
    FA_AS_CONFIG: 'config',
    FA_AS_PORT: 'port',
    FA_AS_PORT_FILE: 'portFile',
    FA_AS_PID_FILE: 'pidFile',
    FA_AS_KEY: 'key',
    FA_AS_CERT: 'cert',
    FA_AS_LOG: 'log',
    FA_AS_ACCESS_TTL: 'accessTokenTtl',
    FA_AS_REFRESH_TTL: 'refreshTokenTtl',
    FA_AS_ROTATE: 'rotateRefreshToken',
    FA_AS_AUTH_METHODS: 'tokenEndpointAuthMethods',
    FA_AS_ID_TOKEN_ALG: 'idTokenAlg',
    FA_AS_ISSUER: 'issuer',
    FA_AS_DEVICE_TTL: 'deviceCodeTtl',
    FA_AS_DEVICE_INTERVAL: 'deviceInterval',
    FA_AS_DEVICE_SLOW_DOWN: 'deviceSlowDown',
    FA_AS_DEVICE_CONTROL: 'deviceControl',
    FA_AS_SECRETS_LOG: 'secretsLog',
    FA_AS_CACHE_MAX_AGE: 'cacheMaxAge',
    FA_AS_STATE_DIR: 'stateDir',
    FA_AS_ID_TOKEN_CLAIMS: 'idTokenClaims',
    FA_AS_CLAIMS: 'claims',
    FA_AS_PASSWORD_ID_TOKEN: 'passwordIdToken',
    FA_AS_USERINFO_SUB: 'userinfoSub',
    FA_AS_CONSENT_PAGE: 'consentPage',
    FA_AS_DPOP: 'dpop',
    FA_AS_JWT_CLIENT_JWKS: 'jwtClientJwks',
    FA_AS_CLIENT_CREDENTIALS: 'clientCredentials',
  };
  for (const [k, v] of Object.entries(map)) {
    if (env[k] !== undefined && env[k] !== '') out[v] = env[k];
  }
  return out;
}

function toBool(v) {
  if (typeof v === 'boolean') return v;
  const s = String(v).toLowerCase();
  if (['1', 'yes', 'true', 'on'].includes(s)) return true;
  if (['0', 'no', 'false', 'off'].includes(s)) return false;
  throw usageError(`not a boolean: ${v}`);
}

function toInt(v, what) {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw usageError(`${what}: not a non-negative integer: ${v}`);
  return n;
}

function loadConfig() {
  const args = parseArgs(process.argv.slice(2));
  const env = fromEnv(process.env);
  const file = args.config || env.config;
  let fileConf = {};
  if (file) {
    fileConf = JSON.parse(fs.readFileSync(file, 'utf8'));
  }
  const conf = {
    ...DEFAULTS, ...fileConf, ...env, ...args,
  };
  conf.secrets = { ...DEFAULTS.secrets, ...(fileConf.secrets || {}) };
  conf.port = toInt(conf.port, 'port');
  conf.accessTokenTtl = toInt(conf.accessTokenTtl, 'access token TTL');
  conf.refreshTokenTtl = toInt(conf.refreshTokenTtl, 'refresh token TTL');
  conf.idTokenTtl = toInt(conf.idTokenTtl, 'id token TTL');
  conf.rotateRefreshToken = toBool(conf.rotateRefreshToken);
  conf.deviceCodeTtl = toInt(conf.deviceCodeTtl, 'device code TTL');
  if (conf.deviceCodeTtl < 1) throw usageError('device code TTL: at least 1 second');
  conf.deviceInterval = conf.deviceInterval === null || conf.deviceInterval === undefined
    || conf.deviceInterval === '' ? null : toInt(conf.deviceInterval, 'device interval');
  conf.deviceSlowDown = toInt(conf.deviceSlowDown, 'device slow_down count');
  conf.deviceControl = toBool(conf.deviceControl);
  conf.cacheMaxAge = conf.cacheMaxAge === null || conf.cacheMaxAge === undefined
    || conf.cacheMaxAge === '' ? null : toInt(conf.cacheMaxAge, 'cache max-age');
  if (typeof conf.idTokenClaims === 'string') {
    try {
      conf.idTokenClaims = JSON.parse(conf.idTokenClaims);
    } catch (e) {
      throw usageError(`id token claims: not JSON: ${e.message}`);
    }
  }
  if (!conf.idTokenClaims || typeof conf.idTokenClaims !== 'object'
      || Array.isArray(conf.idTokenClaims)) {
    throw usageError('id token claims: not a JSON object');
  }
  conf.deviceAdvertise = true;
  if (!['standard', 'tuned'].includes(conf.claims)) {
    throw usageError(`claims must be standard or tuned: ${conf.claims}`);
  }
  conf.passwordIdToken = toBool(conf.passwordIdToken);
  conf.consentPage = toBool(conf.consentPage);
  if (conf.userinfoSub === '') conf.userinfoSub = null;
  conf.dpop = String(conf.dpop).toLowerCase();
  if (!['on', 'nonce', 'off'].includes(conf.dpop)) {
    throw usageError(`dpop must be on, nonce or off: ${conf.dpop}`);
  }
  conf.clientCredentials = toBool(conf.clientCredentials);
  if (conf.jwtClientJwks === '') conf.jwtClientJwks = null;
  if (typeof conf.jwtClientJwks === 'string') {
    const text = conf.jwtClientJwks.trim().startsWith('{') ? conf.jwtClientJwks
      : fs.readFileSync(conf.jwtClientJwks, 'utf8');
    try {
      conf.jwtClientJwks = JSON.parse(text);
    } catch (e) {
      throw usageError(`jwt client JWKS: not JSON: ${e.message}`);
    }
  }
  if (conf.jwtClientJwks !== null && (typeof conf.jwtClientJwks !== 'object'
      || !Array.isArray(conf.jwtClientJwks.keys) || conf.jwtClientJwks.keys.length === 0)) {
    throw usageError('jwt client JWKS: not a JWK Set with keys');
  }
  if (conf.jwtClientJwks) {
    for (const k of conf.jwtClientJwks.keys) {
      if (k.d !== undefined || k.p !== undefined || k.k !== undefined) {
        throw usageError('jwt client JWKS: public keys only');
      }
    }
  }
  if (conf.clientCredentials) {
    conf.scopes = [...new Set([...conf.scopes, 'system/*.rs', 'system/*.read', 'system/Patient.rs'])];
  }
  if (typeof conf.tokenEndpointAuthMethods === 'string') {
    conf.tokenEndpointAuthMethods = conf.tokenEndpointAuthMethods.split(/[\s,]+/).filter(Boolean);
  }
  if (!conf.key || !conf.cert) {
    throw usageError('--key and --cert are required (PEM files)');
  }
  if (!['RS256', 'PS256', 'ES256'].includes(conf.idTokenAlg)) {
    throw usageError(`id token alg must be RS256, PS256 or ES256: ${conf.idTokenAlg}`);
  }
  return conf;
}

// ------------------------------------------------------------ event log

let logFd = null;

function logEvent(obj) {
  if (logFd === null) return;
  const line = `${JSON.stringify({ ts: Date.now() / 1000, ...obj })}\n`;
  // Synchronous: the line is on disk before the HTTP answer leaves, so a
  // test that reads the log right after its client returns sees it.
  fs.writeSync(logFd, line);
}

function writeAtomic(file, text) {
  const tmp = `${file}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

// ------------------------------------------------------------ accounts

function makeAccounts(list, extraClaims) {
  const byName = new Map();
  const bySub = new Map();
  for (const a of list) {
    const acct = { sub: a.sub || a.username, ...a, extraClaims };
    byName.set(acct.username, acct);
    bySub.set(acct.sub, acct);
  }
  return { byName, bySub };
}

function accountObject(acct) {
  return {
    accountId: acct.sub,
    async claims() {
      const c = {
        sub: acct.sub,
        preferred_username: acct.username,
        name: acct.name,
      };
      if (acct.fhirUser) c.fhirUser = acct.fhirUser;
      if (acct.email) c.email = acct.email;
      return { ...c, ...(acct.extraClaims || {}) };
    },
  };
}

// ------------------------------------------------------------ keys

function signingKeys() {
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsaJwk = { ...rsa.privateKey.export({ format: 'jwk' }), kid: `rsa-${crypto.randomBytes(4).toString('hex')}`, use: 'sig' };
  const ecJwk = { ...ec.privateKey.export({ format: 'jwk' }), kid: `ec-${crypto.randomBytes(4).toString('hex')}`, use: 'sig' };
  return { keys: [rsaJwk, ecJwk] };
}

// The signing and cookie keys: new ones, or with a state directory the
// ones saved there (made and saved on the first start).
function stateKeys(dir) {
  const fresh = () => ({ jwks: signingKeys(), cookies: [crypto.randomBytes(32).toString('hex')] });
  if (!dir) return fresh();
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  openFileStore(path.join(dir, 'store.json'));
  const file = path.join(dir, 'keys.json');
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
  const keys = fresh();
  writeAtomic(file, JSON.stringify(keys));
  return keys;
}

// ------------------------------------------------------------ HTML pages

function page(title, body) {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head>`
    + `<body><h1>${title}</h1>${body}</body></html>`;
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  }[c]));
}

// ------------------------------------------------------------ main

async function main() {
  const conf = loadConfig();
  const accounts = makeAccounts(conf.accounts, conf.idTokenClaims);

  if (conf.log) {
    fs.mkdirSync(path.dirname(path.resolve(conf.log)), { recursive: true });
    logFd = fs.openSync(conf.log, 'a', 0o600);
  }

  const server = https.createServer({
    key: fs.readFileSync(conf.key),
    cert: fs.readFileSync(conf.cert),
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(conf.port, conf.host, resolve);
  });
  const { port } = server.address();
  const issuer = conf.issuer ? String(conf.issuer).replace(/\/+$/, '') : `https://127.0.0.1:${port}`;

  const clients = [
    {
      client_id: 'fhir-cli',
      client_name: 'fhir-token (test public client)',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['password', 'refresh_token', 'authorization_code',
        'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/callback', 'http://127.0.0.1/'],
      id_token_signed_response_alg: conf.idTokenAlg,
    },
    {
      client_id: 'fhir-conf',
      client_name: 'confidential client (client_secret_basic)',
      client_secret: conf.secrets['fhir-conf'],
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['password', 'refresh_token',
        'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: [],
      redirect_uris: [],
      id_token_signed_response_alg: conf.idTokenAlg,
    },
    {
      client_id: 'fhir-post',
      client_name: 'confidential client (client_secret_post)',
      client_secret: conf.secrets['fhir-post'],
      token_endpoint_auth_method: 'client_secret_post',
      grant_types: ['password', 'refresh_token',
        'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: [],
      redirect_uris: [],
      id_token_signed_response_alg: conf.idTokenAlg,
    },
    {
      // The FHIR server's own client, for introspection calls only.
      client_id: 'fhir-rs',
      client_name: 'FHIR resource server',
      client_secret: conf.secrets['fhir-rs'],
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    },
    ...(conf.jwtClientJwks ? [{
      // --jwt-client-jwks: a confidential client that proves itself with
      // a signed assertion (RFC 7523 private_key_jwt).
      client_id: 'fhir-jwt',
      client_name: 'confidential client (private_key_jwt)',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: conf.jwtClientJwks,
      grant_types: ['password', 'refresh_token',
        'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: [],
      redirect_uris: [],
      id_token_signed_response_alg: conf.idTokenAlg,
    }] : []),
    ...conf.extraClients,
  ];
  if (conf.clientCredentials) {
    for (const c of clients) {
      if (['fhir-conf', 'fhir-post', 'fhir-jwt'].includes(c.client_id)) {
        c.grant_types = [...c.grant_types, 'client_credentials'];
      }
    }
  }

  const keys = stateKeys(conf.stateDir);
  const configuration = {
    clients,
    jwks: keys.jwks,
    cookies: { keys: keys.cookies },
    findAccount(ctx, id) {
      const acct = accounts.bySub.get(id);
      return acct ? accountObject(acct) : undefined;
    },
    // OIDC Core §5.4 (standard), or the tuned test bed (see the header).
    claims: conf.claims === 'tuned' ? {
      openid: ['sub', 'preferred_username'],
      profile: ['name', 'preferred_username'],
      fhirUser: ['fhirUser'],
      email: ['email'],
    } : {
      acr: null,
      sid: null,
      auth_time: null,
      iss: null,
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      fhirUser: ['fhirUser'],
      email: ['email'],
    },
    ...(conf.claims === 'tuned' ? { conformIdTokenClaims: false } : {}),
    scopes: conf.scopes,
    idTokenSigningAlgValues: ['RS256', 'PS256', 'ES256'],
    pkce: { required: () => true, methods: ['S256'] },
    rotateRefreshToken: conf.rotateRefreshToken,
    ttl: {
      AccessToken: conf.accessTokenTtl,
      RefreshToken: conf.refreshTokenTtl,
      Grant: Math.max(conf.refreshTokenTtl, conf.accessTokenTtl),
      IdToken: conf.idTokenTtl,
      // A function: /test/device-settings may change it at run time.
      DeviceCode: () => conf.deviceCodeTtl,
      // client_credentials (--client-credentials on) as other access tokens.
      ClientCredentials: conf.accessTokenTtl,
      AuthorizationCode: 60,
      Interaction: 600,
      Session: 3600,
    },
    // Refresh tokens for interactive flows when offline_access was granted
    // (oidc-provider's default also demands prompt=consent; a test AS
    // does not).
    issueRefreshToken(ctx, client, code) {
      return client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access');
    },
    features: {
      devInteractions: { enabled: false },
      introspection: {
        enabled: true,
        allowedPolicy(ctx, client, token) {
          if (client.clientAuthMethod === 'none' && token.clientId !== client.clientId) {
            return false;
          }
          return true;
        },
      },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      deviceFlow: {
        enabled: true,
        charset: 'base-20',
        mask: '****-****',
        userCodeInputSource(ctx, form, out, err) {
          const msg = err ? '<p>The code is not valid: try again.</p>' : '<p>Enter the code shown on your device.</p>';
          ctx.body = page('Device sign-in', `${msg}${form}<button type="submit" form="op.deviceInputForm">Continue</button>`);
        },
        userCodeConfirmSource(ctx, form, client, deviceInfo, userCode) {
          ctx.body = page('Confirm device', `<p>${escapeHtml(client.clientName || client.clientId)}</p>`
            + `<p><code>${escapeHtml(userCode)}</code></p>${form}`
            + '<button type="submit" form="op.deviceConfirmForm">Continue</button>'
            + '<button type="submit" form="op.deviceConfirmForm" value="yes" name="abort">Abort</button>');
        },
        successSource(ctx) {
          ctx.body = page('Sign-in success', '<p>You can close this page.</p>');
        },
      },
      resourceIndicators: { enabled: false },
      ...(conf.clientCredentials ? { clientCredentials: { enabled: true } } : {}),
      ...(conf.dpop !== 'off' ? {
        dPoP: {
          enabled: true,
          ...(conf.dpop === 'nonce' ? {
            nonceSecret: crypto.randomBytes(32),
            requireNonce: () => true,
          } : {}),
        },
      } : {}),
    },
    ...(conf.jwtClientJwks ? {
      enabledJWA: { clientAuthSigningAlgValues: ['RS256', 'RS384', 'ES256', 'ES384'] },
    } : {}),
    interactions: {
      url(ctx, interaction) {
        return `/interaction/${interaction.uid}`;
      },
    },
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Error', `<pre>${escapeHtml(JSON.stringify(out))}</pre>`);
    },
  };

  if (conf.stateDir) configuration.adapter = FileAdapter;
  const provider = new Provider(issuer, configuration);
  provider.proxy = false;

  // -------------------------------------------------- password grant
  // RFC 6749 §4.3; oidc-provider has none, so register one.  The Grant is
  // created here (offline_access is kept without any prompt=consent).
  const passwordParams = new Set(['username', 'password', 'scope']);
  async function passwordGrant(ctx, next) {
    const { params, client } = ctx.oidc;
    // As oidc-provider's grants: the DPoP proof first (undefined when the
    // feature is off or the request has none).
    const dPoP = await dpopValidate(ctx);
    for (const p of ['username', 'password']) {
      if (!params[p]) throw new errors.InvalidRequest(`missing required parameter '${p}'`);
    }
    const acct = accounts.byName.get(params.username);
    const pwOk = acct && typeof acct.password === 'string'
      && acct.password.length === params.password.length
      && crypto.timingSafeEqual(Buffer.from(acct.password), Buffer.from(params.password));
    if (!pwOk) {
      throw new errors.InvalidGrant('invalid username or password');
    }
    const requested = [...new Set((params.scope || 'openid').split(' ').filter(Boolean))];
    const supported = new Set(conf.scopes);
    const unknown = requested.filter((s) => !supported.has(s));
    if (unknown.length) {
      throw new errors.InvalidScope('requested scope is not supported', unknown.join(' '));
    }
    if (client.scope) {
      const allow = new Set(client.scope.split(' '));
      const denied = requested.filter((s) => !allow.has(s));
      if (denied.length) throw new errors.InvalidScope('requested scope is not allowed', denied.join(' '));
    }
    const scope = requested.join(' ');
    const {
      Grant, AccessToken, RefreshToken, IdToken,
    } = ctx.oidc.provider;
    const account = accountObject(acct);
    ctx.oidc.entity('Account', account);

    const grant = new Grant({ accountId: acct.sub, clientId: client.clientId });
    grant.addOIDCScope(scope);
    grant.addOIDCClaims(['sub', 'preferred_username', 'name', 'fhirUser']);
    await grant.save();
    ctx.oidc.entity('Grant', grant);

    const now = Math.floor(Date.now() / 1000);
    const at = new AccessToken({
      accountId: acct.sub,
      client,
      grantId: grant.jti,
      gty: 'password',
      scope: grant.getOIDCScopeFiltered(new Set(requested)),
    });
    if (dPoP) {
      const unique = await ctx.oidc.provider.ReplayDetection.unique(
        client.clientId,
        dPoP.jti,
        Math.floor(Date.now() / 1000) + DPOP_OK_WINDOW,
      );
      if (!unique) throw new errors.InvalidGrant('DPoP proof JWT Replay detected');
      at.setThumbprint('jkt', dPoP.thumbprint);
    }
    ctx.oidc.entity('AccessToken', at);
    const accessToken = await at.save();

    let refreshToken;
    if (requested.includes('offline_access') && client.grantTypeAllowed('refresh_token')) {
      const rt = new RefreshToken({
        accountId: acct.sub,
        client,
        grantId: grant.jti,
        gty: 'password',
        authTime: now,
        rotations: 0,
        scope,
      });
      // A public client's refresh token is bound to the DPoP key, as
      // oidc-provider's own grants bind it.
      if (client.clientAuthMethod === 'none' && at.jkt) rt.jkt = at.jkt;
      ctx.oidc.entity('RefreshToken', rt);
      refreshToken = await rt.save();
    }

    let idToken;
    if (requested.includes('openid') && conf.passwordIdToken) {
      const token = new IdToken({ ...await account.claims(), auth_time: now }, { ctx });
      // As oidc-provider's own grants do: with conformIdTokenClaims (the
      // standard configuration) an id_token issued with an access token
      // for UserInfo carries only the openid scope's claims.
      token.scope = conf.claims === 'tuned' ? scope : 'openid';
      token.set('at_hash', accessToken);
      token.set('auth_time', now);
      idToken = await token.issue({ use: 'idtoken' });
    }

    ctx.body = {
      access_token: accessToken,
      token_type: at.tokenType,
      expires_in: at.expiration,
      refresh_token: refreshToken,
      id_token: idToken,
      scope: at.scope || undefined,
    };
    if (requested.includes('launch/patient') && acct.patient) {
      ctx.body.patient = acct.patient;
    }
    await next();
  }
  provider.registerGrantType('password', passwordGrant, passwordParams);

  // -------------------------------------------------- strict client auth
  // oidc-provider accepts client_secret_basic and client_secret_post
  // interchangeably for either registration.  Many real servers do not, and
  // a test of "the metadata lists only client_secret_post" needs an AS that
  // refuses the other one: enforce the registered method (strictClientAuth,
  // default on).
  const registeredMethod = new Map(clients.map((c) => [c.client_id, c.token_endpoint_auth_method || 'client_secret_basic']));
  const authPaths = new Set(['/token', '/token/revocation', '/token/introspection', '/device/auth']);
  const endpointEvent = {
    '/token': 'token',
    '/token/revocation': 'revocation',
    '/token/introspection': 'introspection',
    '/device/auth': 'device_authorization',
  };
  provider.use(async (ctx, next) => {
    if (conf.strictClientAuth === false || ctx.method !== 'POST' || !authPaths.has(ctx.path)
        || !ctx.is('application/x-www-form-urlencoded')) {
      await next();
      return;
    }
    const raw = await new Promise((resolve, reject) => {
      let data = '';
      ctx.req.setEncoding('utf8');
      ctx.req.on('data', (c) => {
        data += c;
        if (data.length > 56 * 1024) reject(new errors.InvalidRequest('request body too large'));
      });
      ctx.req.on('end', () => resolve(data));
      ctx.req.on('error', reject);
    });
    ctx.request.body = raw; // oidc-provider parses it from here
    const form = querystring.parse(raw);
    let clientId = typeof form.client_id === 'string' ? form.client_id : undefined;
    const authz = ctx.get('authorization');
    const basic = /^basic /i.test(authz);
    if (basic) {
      const dec = Buffer.from(authz.slice(6).trim(), 'base64').toString('utf8');
      const i = dec.indexOf(':');
      if (i > 0) {
        try {
          clientId = decodeURIComponent(dec.slice(0, i).replace(/\+/g, "%20"));
        } catch {
          clientId = dec.slice(0, i);
        }
      }
    }
    const method = clientId ? registeredMethod.get(clientId) : undefined;
    let refusal;
    if (method === 'client_secret_post' && basic) {
      refusal = 'this client must authenticate with client_secret_post';
    } else if (method === 'client_secret_basic' && form.client_secret !== undefined) {
      refusal = 'this client must authenticate with client_secret_basic';
    }
    if (refusal) {
      ctx.status = 401;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: 'invalid_client', error_description: refusal };
      logEvent({
        event: endpointEvent[ctx.path],
        grant_type: ctx.path === '/token' ? (form.grant_type ?? null) : undefined,
        client_id: clientId,
        ok: false,
        status: 401,
        error: 'invalid_client',
      });
      return;
    }
    await next();
  });

  // -------------------------------------------------- device polling
  // RFC 8628 §3.5 slow_down (oidc-provider 8 never sends it): with
  // --device-interval, a poll sooner than the code's interval after its
  // authorization or its previous poll is answered slow_down; with
  // --device-slow-down N the first N polls are, whatever their timing.
  // Each slow_down adds 5 s to the code's interval, as the client must.
  // State per code is keyed by a hash of the device code.
  const devicePolls = new Map();
  const deviceKey = (code) => crypto.createHash('sha256').update(code).digest('hex');
  provider.use(async (ctx, next) => {
    const pacing = conf.deviceInterval !== null || conf.deviceSlowDown > 0;
    if (!pacing || ctx.method !== 'POST'
        || (ctx.path !== '/token' && ctx.path !== '/device/auth')) {
      await next();
      return;
    }
    if (ctx.path === '/device/auth') {
      await next();
      if (ctx.status === 200 && ctx.body && typeof ctx.body.device_code === 'string') {
        if (conf.deviceInterval !== null) ctx.body.interval = conf.deviceInterval;
        if (devicePolls.size > 1000) devicePolls.clear();
        devicePolls.set(deviceKey(ctx.body.device_code), {
          last: Date.now() / 1000,
          interval: conf.deviceInterval ?? 5,
          forced: 0,
        });
      }
      return;
    }
    if (!ctx.is('application/x-www-form-urlencoded')) {
      await next();
      return;
    }
    let raw = ctx.request.body;
    if (typeof raw !== 'string') {
      raw = await new Promise((resolve, reject) => {
        let data = '';
        ctx.req.setEncoding('utf8');
        ctx.req.on('data', (c) => {
          data += c;
          if (data.length > 56 * 1024) reject(new errors.InvalidRequest('request body too large'));
        });
        ctx.req.on('end', () => resolve(data));
        ctx.req.on('error', reject);
      });
      ctx.request.body = raw;
    }
    const form = querystring.parse(raw);
    const st = form.grant_type === DEVICE_GRANT && typeof form.device_code === 'string'
      ? devicePolls.get(deviceKey(form.device_code)) : undefined;
    if (!st) {
      await next();
      return;
    }
    const now = Date.now() / 1000;
    let why;
    if (st.forced < conf.deviceSlowDown) {
      st.forced += 1;
      why = 'slow_down forced by --device-slow-down';
    } else if (conf.deviceInterval !== null && now - st.last < st.interval - 0.2) {
      why = `polled after ${(now - st.last).toFixed(2)} s, interval ${st.interval} s`;
    }
    st.last = now;
    if (!why) {
      await next();
      return;
    }
    st.interval += 5;
    ctx.status = 400;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { error: 'slow_down', error_description: 'you are polling too quickly' };
    logEvent({
      event: 'token',
      grant_type: DEVICE_GRANT,
      client_id: typeof form.client_id === 'string' ? form.client_id : null,
      ok: false,
      status: 400,
      error: 'slow_down',
      detail: why,
    });
  });

  // Run-time device settings (--device-control on), for tests that would
  // otherwise restart the servers for each setting.
  provider.use(async (ctx, next) => {
    if (!conf.deviceControl || ctx.path !== '/test/device-settings') {
      await next();
      return;
    }
    if (ctx.method === 'POST') {
      const raw = await new Promise((resolve, reject) => {
        let data = '';
        ctx.req.setEncoding('utf8');
        ctx.req.on('data', (c) => {
          data += c;
          if (data.length > 4096) reject(new Error('body too large'));
        });
        ctx.req.on('end', () => resolve(data));
        ctx.req.on('error', reject);
      });
      const form = querystring.parse(raw);
      try {
        if (form.ttl !== undefined) {
          const ttl = toInt(form.ttl, 'ttl');
          if (ttl < 1) throw usageError('ttl: at least 1 second');
          conf.deviceCodeTtl = ttl;
        }
        if (form.interval !== undefined) {
          conf.deviceInterval = form.interval === '' ? null : toInt(form.interval, 'interval');
        }
        if (form.slow_down !== undefined) conf.deviceSlowDown = toInt(form.slow_down, 'slow_down');
        if (form.advertise !== undefined) conf.deviceAdvertise = toBool(form.advertise);
      } catch (err) {
        ctx.status = 400;
        ctx.body = { error: err.message };
        return;
      }
    }
    ctx.body = {
      ttl: conf.deviceCodeTtl,
      interval: conf.deviceInterval,
      slow_down: conf.deviceSlowDown,
      advertise: conf.deviceAdvertise,
    };
  });

  // -------------------------------------------------- middleware
  provider.use(async (ctx, next) => {
    await next();
    const { oidc } = ctx;
    const route = oidc?.route;
    // Event log (no token values).
    if (route === 'token') {
      const body = ctx.body && typeof ctx.body === 'object' ? ctx.body : {};
      logEvent({
        event: 'token',
        grant_type: oidc.params?.grant_type ?? null,
        client_id: oidc.client?.clientId ?? null,
        ok: ctx.status === 200,
        status: ctx.status,
        error: ctx.status === 200 ? null : (body.error ?? null),
        detail: ctx.status === 200 ? undefined : (ctx.state.faDetail ?? undefined),
        rotated: ctx.status === 200 && oidc.params?.grant_type === 'refresh_token'
          ? Boolean(oidc.entities?.RotatedRefreshToken) : undefined,
        // --dpop: whether the request had a proof, what token_type came back.
        dpop: conf.dpop !== 'off' ? Boolean(ctx.get('DPoP')) : undefined,
        token_type: conf.dpop !== 'off' && ctx.status === 200 ? (body.token_type ?? null) : undefined,
        // --jwt-client-jwks: whether the client authenticated with an assertion.
        client_assertion: conf.jwtClientJwks ? typeof (oidc.params?.client_assertion ?? oidc.body?.client_assertion) === 'string' : undefined,
      });
    } else if (route === 'revocation') {
      const body = ctx.body && typeof ctx.body === 'object' ? ctx.body : {};
      logEvent({
        event: 'revocation',
        client_id: oidc.client?.clientId ?? null,
        token_type_hint: oidc.params?.token_type_hint ?? null,
        ok: ctx.status === 200,
        status: ctx.status,
        error: ctx.status === 200 ? null : (body.error ?? null),
        kind: oidc.entities?.RefreshToken ? 'refresh_token'
          : (oidc.entities?.AccessToken ? 'access_token' : null),
        client_assertion: conf.jwtClientJwks ? typeof (oidc.params?.client_assertion ?? oidc.body?.client_assertion) === 'string' : undefined,
      });
    } else if (route === 'introspection') {
      const body = ctx.body && typeof ctx.body === 'object' ? ctx.body : {};
      logEvent({
        event: 'introspection',
        client_id: oidc.client?.clientId ?? null,
        ok: ctx.status === 200,
        status: ctx.status,
        active: body.active === true,
      });
    } else if (route === 'discovery' && ctx.status === 200 && ctx.body) {
      // token_endpoint_auth_methods_supported override, and other test
      // overrides of the discovery document.
      if (conf.tokenEndpointAuthMethods) {
        ctx.body.token_endpoint_auth_methods_supported = [...conf.tokenEndpointAuthMethods];
      }
      for (const [k, v] of Object.entries(conf.discoveryOverrides || {})) {
        if (v === null) delete ctx.body[k];
        else ctx.body[k] = v;
      }
      if (!conf.deviceAdvertise) delete ctx.body.device_authorization_endpoint;
      if (conf.cacheMaxAge !== null) ctx.set('Cache-Control', `max-age=${conf.cacheMaxAge}`);
      logEvent({ event: 'discovery', ok: true });
    } else if (route === 'jwks') {
      if (conf.cacheMaxAge !== null && ctx.status === 200) ctx.set('Cache-Control', `max-age=${conf.cacheMaxAge}`);
      logEvent({ event: 'jwks', ok: ctx.status === 200, status: ctx.status });
    } else if (route === 'userinfo') {
      // --userinfo-sub: answer for someone else (a client must notice).
      if (conf.userinfoSub !== null && ctx.status === 200 && ctx.body
          && typeof ctx.body === 'object') {
        ctx.body.sub = conf.userinfoSub;
      }
      logEvent({ event: 'userinfo', ok: ctx.status === 200, status: ctx.status });
    } else if (route === 'device_authorization') {
      logEvent({
        event: 'device_authorization',
        client_id: oidc.client?.clientId ?? null,
        ok: ctx.status === 200,
        status: ctx.status,
        client_assertion: conf.jwtClientJwks ? typeof (oidc.params?.client_assertion ?? oidc.body?.client_assertion) === 'string' : undefined,
      });
    }
  });

  // -------------------------------------------------- secrets log
  // --secrets-log FILE (FA_AS_SECRETS_LOG): the secrets a client sent or
  // got that the client under test never shows, one "NAME VALUE" line
  // each (device codes, authorization codes, PKCE verifiers, client
  // secrets), so a leak test knows what to look for.  Never in the event
  // log.
  if (conf.secretsLog) {
    provider.use(async (ctx, next) => {
      await next();
      const route = ctx.oidc?.route;
      const lines = [];
      const p = ctx.oidc?.params || {};
      if (route === 'device_authorization' && ctx.body && typeof ctx.body.device_code === 'string') {
        lines.push(`device_code ${ctx.body.device_code}`);
      }
      if (route === 'token') {
        for (const k of ['code', 'code_verifier', 'device_code', 'client_secret']) {
          if (typeof p[k] === 'string') lines.push(`${k} ${p[k]}`);
        }
      }
      if (lines.length > 0) fs.appendFileSync(conf.secretsLog, `${lines.join('\n')}\n`, { mode: 0o600 });
    });
  }

  // -------------------------------------------------- authorization requests
  // The browser flow's authorization request as the AS received it, for
  // the event log (event "authorization"): the PKCE method, SMART's aud,
  // prompt and scope, and whether state, nonce and a challenge were there
  // (their values are not logged).
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route !== 'authorization') return;
    const q = ctx.method === 'POST' && ctx.oidc.params ? ctx.oidc.params : ctx.query;
    const str = (v) => (typeof v === 'string' ? v : null);
    logEvent({
      event: 'authorization',
      client_id: str(q.client_id),
      redirect_uri: str(q.redirect_uri),
      code_challenge_method: str(q.code_challenge_method),
      code_challenge: typeof q.code_challenge === 'string',
      state: typeof q.state === 'string',
      nonce: typeof q.nonce === 'string',
      aud: str(ctx.query.aud),
      prompt: str(q.prompt),
      scope: str(q.scope),
      status: ctx.status,
    });
  });

  // A refresh answer for a SMART scope carries the launch context again
  // (the password grant adds it itself).
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route === 'token' && ctx.status === 200
        && ctx.oidc.params?.grant_type === 'refresh_token' && ctx.body
        && typeof ctx.body.scope === 'string' && ctx.body.scope.split(' ').includes('launch/patient')) {
      const acct = accounts.bySub.get(ctx.oidc.entities?.Account?.accountId);
      if (acct?.patient) ctx.body.patient = acct.patient;
    }
  });

  // -------------------------------------------------- interactions
  // A plain login form checked against the static accounts, and automatic
  // consent to what the client asked for (or, with --consent-page on, a
  // page that asks).  curl can drive it:
  //   GET  /interaction/UID           -> the form (the consent page)
  //   POST /interaction/UID/login     username=..&password=..
  //   POST /interaction/UID/consent   -> consent given (--consent-page on)
  //   POST /interaction/UID/abort     -> access_denied
  provider.use(async (ctx, next) => {
    const m = /^\/interaction\/([^/]+)(?:\/(login|abort|consent))?$/.exec(ctx.path);
    if (!m) {
      await next();
      return;
    }
    const [, uid, action] = m;
    let details;
    try {
      details = await provider.interactionDetails(ctx.req, ctx.res);
    } catch (err) {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = page('Error', `<p>${escapeHtml(err.message)}</p>`);
      return;
    }
    if (details.uid !== uid) {
      ctx.status = 400;
      ctx.body = page('Error', '<p>interaction mismatch</p>');
      return;
    }
    const { prompt, params } = details;
    if (action === 'abort' && ctx.method === 'POST') {
      logEvent({ event: 'interaction_abort', prompt: prompt.name });
      const redirectTo = await provider.interactionResult(ctx.req, ctx.res, {
        error: 'access_denied', error_description: 'End-User aborted interaction',
      }, { mergeWithLastSubmission: false });
      ctx.status = 303;
      ctx.redirect(redirectTo);
      return;
    }
    if (prompt.name === 'login') {
      if (action === 'login' && ctx.method === 'POST') {
        const raw = await new Promise((resolve, reject) => {
          let data = '';
          ctx.req.setEncoding('utf8');
          ctx.req.on('data', (c) => {
            data += c;
            if (data.length > 65536) reject(new Error('body too large'));
          });
          ctx.req.on('end', () => resolve(data));
          ctx.req.on('error', reject);
        });
        const form = querystring.parse(raw);
        const acct = accounts.byName.get(String(form.username || ''));
        if (!acct || acct.password !== String(form.password || '')) {
          logEvent({ event: 'interaction_login', ok: false, username: String(form.username || '') });
          ctx.type = 'html';
          ctx.status = 200;
          ctx.body = page('Sign-in', '<p>Wrong user name or password.</p>'
            + `<form method="post" action="/interaction/${uid}/login"><input name="username"><input name="password" type="password"><button>Sign in</button></form>`);
          return;
        }
        logEvent({ event: 'interaction_login', ok: true, username: acct.username });
        const redirectTo = await provider.interactionResult(ctx.req, ctx.res, {
          login: { accountId: acct.sub },
        }, { mergeWithLastSubmission: false });
        ctx.status = 303;
        ctx.redirect(redirectTo);
        return;
      }
      ctx.type = 'html';
      ctx.body = page('Sign-in', `<p>Client: ${escapeHtml(params.client_id)}</p>`
        + `<form method="post" action="/interaction/${uid}/login"><input name="username"><input name="password" type="password"><button>Sign in</button></form>`);
      return;
    }
    if (prompt.name === 'consent') {
      if (conf.consentPage && !(action === 'consent' && ctx.method === 'POST')) {
        ctx.type = 'html';
        ctx.body = page('Consent', `<p>The application <b>${escapeHtml(params.client_id)}</b>`
          + ` asks for: ${escapeHtml(params.scope)}</p>`
          + `<form method="post" action="/interaction/${uid}/consent"><button>Allow</button> `
          + `<button formaction="/interaction/${uid}/abort">Deny</button></form>`);
        return;
      }
      if (conf.consentPage) logEvent({ event: 'interaction_consent', ok: true });
      const { Grant } = provider;
      let grant;
      if (details.grantId) {
        grant = await Grant.find(details.grantId);
      } else {
        grant = new Grant({ accountId: details.session.accountId, clientId: params.client_id });
      }
      if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
      if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
      if (prompt.details.missingResourceScopes) {
        for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes)) {
          grant.addResourceScope(indicator, scopes.join(' '));
        }
      }
      const grantId = await grant.save();
      const redirectTo = await provider.interactionResult(ctx.req, ctx.res, {
        consent: { grantId },
      }, { mergeWithLastSubmission: true });
      ctx.status = 303;
      ctx.redirect(redirectTo);
      return;
    }
    ctx.status = 400;
    ctx.body = page('Error', `<p>unknown prompt ${escapeHtml(prompt.name)}</p>`);
  });

  // oidc-provider answers every invalid_grant with the same description;
  // keep the real reason for the event log.
  for (const ev of ['grant.error', 'revocation.error', 'introspection.error']) {
    provider.on(ev, (ctx, err) => {
      ctx.state.faDetail = err?.error_detail || err?.message;
    });
  }
  provider.on('server_error', (ctx, err) => {
    process.stderr.write(`as.js: server_error: ${err && err.stack}\n`);
  });

  server.on('request', provider.callback());

  if (conf.pidFile) writeAtomic(conf.pidFile, `${process.pid}\n`);
  if (conf.portFile) writeAtomic(conf.portFile, `${port}\n`);
  process.stdout.write(`as.js: issuer ${issuer} (access TTL ${conf.accessTokenTtl}s, rotation ${conf.rotateRefreshToken ? 'on' : 'off'})\n`);

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
  process.stderr.write(`as.js: ${msg}\n`);
  process.exit(err && err.usage ? 2 : 1);
});
