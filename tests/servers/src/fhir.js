#!/usr/bin/env node
// fhir.js - an HTTPS FHIR R4 server for pam_fhir's integration tests, built
// on @asymmetrik/node-fhir-server-core, on 127.0.0.1.
//
// Usage: node src/fhir.js --key KEY.pem --cert CERT.pem --issuer URL
//          [--ca CA.pem] [--port N] [--port-file F] [--log EVENTS.jsonl]
//          [--client-id fhir-rs] [--client-secret rs-secret]
//          [--introspection-endpoint URL] [--require-scope on|off]
//          [--require-token on|off] [--challenge bearer|none|basic]
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

import fs from 'node:fs';
import https from 'node:https';

import core from '@asymmetrik/node-fhir-server-core';

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
    ...parseArgs(process.argv.slice(2)),
  };
  conf.port = Number(conf.port);
  if (!Number.isInteger(conf.port) || conf.port < 0) throw usageError('bad port');
  if (!conf.key || !conf.cert) throw usageError('--key and --cert are required');
  const off = (v) => ['off', 'no', 'false', '0'].includes(String(v).toLowerCase());
  conf.requireScope = !off(conf.requireScope);
  conf.requireToken = !off(conf.requireToken);
  if (!['bearer', 'none', 'basic'].includes(conf.challenge)) throw usageError('--challenge: bearer, none or basic');
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

  // Returns null when the request may go on, else [status, body, headers].
  async function checkBearer(req) {
    const authz = req.headers.authorization || '';
    const m = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)$/i.exec(authz);
    if (!authz) {
      return [401, outcome('login', 'no access token'), challenge('Bearer realm="fhir"'), 'missing'];
    }
    if (!m) {
      return [400, outcome('invalid', 'malformed Authorization header'),
        { 'WWW-Authenticate': 'Bearer realm="fhir", error="invalid_request"' }, 'malformed'];
    }
    let answer;
    try {
      const endpoint = await introspectionEndpoint();
      const r = await postForm(agent, endpoint, { token: m[1], token_type_hint: 'access_token' },
        [conf.clientId, conf.clientSecret]);
      if (r.status !== 200) throw new Error(`introspection: HTTP ${r.status}`);
      answer = JSON.parse(r.body);
    } catch (err) {
      discovery = null;
      return [503, outcome('transient', `cannot validate the token: ${err.message}`), { 'Retry-After': '1' }, 'as_unreachable'];
    }
    const now = Math.floor(Date.now() / 1000);
    const invalid = (why) => [401, outcome('login', `invalid token: ${why}`),
      challenge(`Bearer realm="fhir", error="invalid_token", error_description="${why}"`), why];
    if (answer.active !== true) return invalid('inactive');
    if (typeof answer.token_type !== 'string' || answer.token_type.toLowerCase() !== 'bearer') {
      return invalid('not an access token');
    }
    if (typeof answer.exp === 'number' && answer.exp <= now) return invalid('expired');
    if (conf.requireScope) {
      const scopes = typeof answer.scope === 'string' ? answer.scope.split(' ') : [];
      if (!scopes.some((s) => READ_SCOPE.test(s))) {
        return [403, outcome('forbidden', 'insufficient scope'),
          { 'WWW-Authenticate': 'Bearer realm="fhir", error="insufficient_scope", scope="patient/*.read"' }, 'insufficient_scope'];
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
        refusal = await checkBearer(req);
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
