#!/usr/bin/env node
// fault.js - a fault-injecting HTTPS server for pam_fhir's integration tests
// (node's https module only, no dependencies).  It plays an authorization
// server that answers badly, so the C client's error handling can be tested.
//
// Usage: node src/fault.js --key KEY.pem --cert CERT.pem [--port N]
//          [--port-file F] [--mode-file F] [--upstream https://127.0.0.1:P]
//          [--upstream-port-file F] [--alt-cert NAME=KEY.pem:CERT.pem]...
//          [--ca CA.pem] [--log EVENTS.jsonl] [--pid-file F]
//
// Put in front of the AS (the AS started with --issuer set to this
// server's URL), it is a reverse proxy whose behaviour the mode file
// switches at run time: "pass" forwards, the other modes misbehave.
//
// The mode comes from the path or from the mode file:
//   https://127.0.0.1:PORT/m/MODE[:ARG]/...  this request uses MODE (ARG is
//                                            e.g. the stall time)
//   https://127.0.0.1:PORT/...               the mode file's first line,
//                                            "MODE [ARG]", read on every
//                                            request; no file: "pass" when
//                                            --upstream is given, else "ok"
// So an issuer of https://127.0.0.1:PORT/m/nonjson gets a discovery
// document whose endpoints all live under /m/nonjson/, and a client steered
// there (by issuer, or by a token_endpoint override) meets that fault.
//
// Under a prefix P (empty or /m/MODE):
//   GET  P/.well-known/openid-configuration  discovery; issuer = the URL of
//        P exactly (https://127.0.0.1:PORT or https://127.0.0.1:PORT/m/MODE)
//        and every endpoint under P.  Discovery modes change it.
//   anything else (P/token, P/token/revocation, ...): the token endpoint
//        behaviour of the mode.
//
// Modes (token endpoint unless said otherwise):
//   pass            forward the request (method, path less the prefix,
//                   headers, body) to --upstream; discovery too
//   slow-pass[:MS]  forward as pass, but wait MS milliseconds (default 500)
//                   before forwarding and again before passing the answer
//                   on: a client killed meanwhile may or may not have been
//                   answered by the AS (the request is forwarded even when
//                   the client has gone, the worst case for it)
//   ok              a well-formed token response (synthetic tokens)
//   nonjson         200, text/html body
//   truncated       200, JSON cut in the middle
//   array           200, a JSON array
//   no-access-token 200, JSON without access_token
//   access-token-number  200, "access_token": 12345
//   expires-in-string    200, "expires_in": "soon"
//   token-type-mac  200, "token_type": "mac"
//   empty           200, empty body
//   http500         500 with an HTML body
//   http503         503 {"error":"temporarily_unavailable"}
//   big-cl          200, a valid token response padded past 256 KiB (300 KiB
//                   by default, ARG KiB), with Content-Length
//   big-chunked     the same without Content-Length (chunked)
//   big-refresh[:N] 200, a valid token response whose refresh_token is N
//                   bytes long (default 4000): a rotation that needs more
//                   room in the keyring than the token it replaces
//   big-access[:N]  the same with an access_token of N bytes (default 4000)
//   stall[:S]       read the request, wait S seconds (default 30), then a
//                   valid token response
//   stall-body[:S]  headers at once, body after S seconds
//   redirect[:CODE] CODE (302 default; 307 keeps the POST) to the upstream's
//                   same path (or to /m/ok/... without upstream): a client
//                   that follows it would succeed
//   reset           TCP reset after the request arrives
//   close           close the connection without an answer
//   invalid-grant   400 {"error":"invalid_grant"}
//   invalid-client  401 {"error":"invalid_client"}
//   tls-NAME        (mode file only) new connections get the --alt-cert NAME
//                   certificate; requests are forwarded as in pass
//   Discovery modes (other paths are forwarded to --upstream, or behave
//   like "ok" without one):
//   issuer-mismatch discovery whose issuer is another URL
//   discovery-nonjson, discovery-500, discovery-redirect, discovery-big,
//   discovery-stall[:S]
//   Redirect modes (mode file; everything they do not redirect is
//   forwarded as in pass, so a client that follows a redirect it should
//   refuse succeeds, and the test can tell).  Helper paths in these
//   modes: /moved/PATH forwards PATH; /chain/K/PATH redirects to
//   /chain/K-1/PATH, and /chain/0/PATH forwards PATH; /loop/PATH
//   redirects back to PATH.  "Discovery" is any of the three well-known
//   paths; the AS's JWKS is /jwks.
//   redirect-slash[:CODE]    discovery -> CODE (301) with the relative
//                            Location "openid-configuration/" (the same
//                            URL with a trailing slash), which is
//                            forwarded without the slash
//   redirect-absolute[:CODE] discovery -> 302 to https://127.0.0.1:PORT
//                            /moved/PATH (same origin, absolute)
//   redirect-jwks[:CODE]     /jwks -> 301 to "/moved/jwks" (relative)
//   redirect-http            discovery -> 301 to http://127.0.0.1:PORT/
//                            moved/PATH (this server speaks only https)
//   redirect-host            discovery -> 301 to https://localhost:PORT/
//                            moved/PATH (this very server by another name;
//                            the test certificate names localhost too)
//   redirect-port            discovery -> 301 to the upstream AS itself,
//                            which serves the right document
//   redirect-chain[:N]       discovery -> /chain/N-1/PATH: N redirects
//                            (default 3) before the document
//   redirect-loop            discovery -> /loop/PATH -> PATH -> ...
//   redirect-issuer          discovery -> 302 to /m/ok/PATH (same origin),
//                            whose document names another issuer
//   redirect-big             discovery -> 302 to /m/discovery-big/PATH
//                            (same origin; a document over 256 KiB)
//   redirect-stall[:S]       discovery -> 302 to /m/discovery-stall:S/PATH
//                            (same origin; answers after S seconds, 20)
//   redirect-token[:CODE]    every POST -> CODE (307) to /moved/PATH (same
//                            origin; a client that followed would succeed)
//
// Every request is logged (JSON lines, no bodies): {"ts","method","path",
// "mode","status"}.

import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';

function parseArgs(argv) {
  const map = {
    '--port': 'port',
    '--port-file': 'portFile',
    '--pid-file': 'pidFile',
    '--key': 'key',
    '--cert': 'cert',
    '--ca': 'ca',
    '--mode-file': 'modeFile',
    '--upstream': 'upstream',
    '--upstream-port-file': 'upstreamPortFile',
    '--alt-cert': 'altCert',
    '--log': 'log',
  };
  const out = { port: 0, altCerts: {} };
  for (let i = 0; i < argv.length; i += 1) {
    let arg = argv[i];
    let value;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const name = map[arg];
    if (!name) throw new Error(`unknown option ${arg}`);
    if (value === undefined) {
      i += 1;
      if (i >= argv.length) throw new Error(`option ${arg} needs a value`);
      value = argv[i];
    }
    if (name === 'altCert') {
      const m = /^([a-z0-9-]+)=([^:]+):(.+)$/.exec(value);
      if (!m) throw new Error('--alt-cert wants NAME=KEY.pem:CERT.pem');
      out.altCerts[m[1]] = { key: m[2], cert: m[3] };
    } else {
      out[name] = value;
    }
  }
  out.port = Number(out.port);
  if (!out.key || !out.cert) throw new Error('--key and --cert are required');
  return out;
}

let conf;
try {
  conf = parseArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`fault.js: ${err.message}\n`);
  process.exit(2);
}

// The upstream AS: --upstream URL, or https://127.0.0.1:PORT with PORT read
// from --upstream-port-file on each request (so this server can start
// first and the AS can take its URL as issuer).
function upstream() {
  if (conf.upstream) return conf.upstream;
  if (conf.upstreamPortFile) {
    try {
      const port = fs.readFileSync(conf.upstreamPortFile, 'utf8').trim();
      if (/^[0-9]+$/.test(port)) return `https://127.0.0.1:${port}`;
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
    }
  }
  return null;
}
const logFd = conf.log ? fs.openSync(conf.log, 'a', 0o600) : null;
const upstreamAgent = new https.Agent({ ca: conf.ca ? fs.readFileSync(conf.ca) : undefined });
let origin = null; // https://127.0.0.1:PORT once listening

function logEvent(obj) {
  if (logFd !== null) fs.writeSync(logFd, `${JSON.stringify({ ts: Date.now() / 1000, ...obj })}\n`);
}

function writeAtomic(file, text) {
  const tmp = `${file}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

function modeFromFile() {
  if (conf.modeFile) {
    try {
      const line = fs.readFileSync(conf.modeFile, 'utf8').split('\n')[0].trim();
      if (line) {
        const [mode, arg] = line.split(/\s+/);
        return { mode, arg };
      }
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
    }
  }
  return { mode: conf.upstream || conf.upstreamPortFile ? 'pass' : 'ok', arg: undefined };
}

function tokenResponse() {
  return {
    access_token: `fault-${crypto.randomBytes(16).toString('hex')}`,
    token_type: 'Bearer',
    expires_in: 3600,
    refresh_token: `fault-rt-${crypto.randomBytes(16).toString('hex')}`,
    scope: 'openid offline_access',
  };
}

function discoveryDoc(prefixUrl, issuer) {
  return {
    issuer,
    token_endpoint: `${prefixUrl}/token`,
    revocation_endpoint: `${prefixUrl}/token/revocation`,
    introspection_endpoint: `${prefixUrl}/token/introspection`,
    authorization_endpoint: `${prefixUrl}/auth`,
    device_authorization_endpoint: `${prefixUrl}/device/auth`,
    jwks_uri: `${prefixUrl}/jwks`,
    grant_types_supported: ['password', 'refresh_token', 'authorization_code',
      'urn:ietf:params:oauth:grant-type:device_code'],
    token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    id_token_signing_alg_values_supported: ['RS256', 'ES256'],
    scopes_supported: ['openid', 'offline_access', 'patient/*.read'],
    subject_types_supported: ['public'],
  };
}

function padJson(obj, kib) {
  const json = JSON.stringify(obj);
  // Valid JSON: the padding is whitespace inside the object.
  return `{${' '.repeat(kib * 1024)}${json.slice(1)}`;
}

function send(res, status, body, type = 'application/json', extra = {}) {
  const buf = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  res.writeHead(status, {
    'Content-Type': type, 'Content-Length': buf.length, 'Cache-Control': 'no-store', ...extra,
  });
  res.end(buf);
}

function sleep(ms) {
  return new Promise((resolve) => { setTimeout(resolve, ms); });
}

function forward(req, res, path, body) {
  return new Promise((resolve) => {
    // Host is kept (as a reverse proxy that preserves it): the AS builds
    // the URLs it hands out (discovery) from it, so they name this server.
    const headers = { ...req.headers };
    delete headers.connection;
    const up = https.request(`${upstream()}${path}`, {
      method: req.method, headers, agent: upstreamAgent, timeout: 10000,
    }, (upRes) => {
      const h = { ...upRes.headers };
      delete h.connection;
      delete h['keep-alive'];
      res.writeHead(upRes.statusCode, h);
      upRes.pipe(res);
      upRes.on('end', () => resolve(upRes.statusCode));
    });
    up.on('timeout', () => up.destroy(new Error('upstream timed out')));
    up.on('error', (err) => {
      if (!res.headersSent) send(res, 502, { error: 'server_error', error_description: `upstream: ${err.message}` });
      else res.destroy();
      resolve(502);
    });
    up.end(body);
  });
}

// forwardSlow: forward after a pause, hold the whole answer for another
// pause, then pass it on (if the client is still there).
async function forwardSlow(req, res, path, body, ms) {
  await sleep(ms);
  const answer = await new Promise((resolve) => {
    const headers = { ...req.headers };
    delete headers.connection;
    const up = https.request(`${upstream()}${path}`, {
      method: req.method, headers, agent: upstreamAgent, timeout: 10000,
    }, (upRes) => {
      const parts = [];
      upRes.on('data', (c) => parts.push(c));
      upRes.on('end', () => resolve({ status: upRes.statusCode, headers: upRes.headers, body: Buffer.concat(parts) }));
      upRes.on('error', () => resolve(null));
    });
    up.on('timeout', () => up.destroy(new Error('upstream timed out')));
    up.on('error', () => resolve(null));
    up.end(body);
  });
  await sleep(ms);
  if (res.destroyed) return answer ? answer.status : 0;
  if (!answer) return send(res, 502, { error: 'server_error', error_description: 'upstream failed' });
  const h = { ...answer.headers };
  delete h.connection;
  delete h['keep-alive'];
  delete h['transfer-encoding'];
  h['content-length'] = answer.body.length;
  res.writeHead(answer.status, h);
  res.end(answer.body);
  return answer.status;
}

function redirect(res, code, location) {
  res.writeHead(code, { Location: location, 'Content-Length': 0, 'Cache-Control': 'no-store' });
  res.end();
  return code;
}

const WELL_KNOWN = ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server',
  '/.well-known/smart-configuration'];

// The redirect-* modes (see the header).
function redirectMode(req, res, body, mode, arg, pathname, search) {
  const num = (d) => (arg !== undefined && arg !== '' ? Number(arg) : d);
  const isDiscovery = WELL_KNOWN.includes(pathname);
  const pass = (path) => {
    if (!upstream()) return send(res, 500, { error: 'server_error', error_description: `${mode} without an upstream` });
    return forward(req, res, `${path}${search}`, body);
  };
  let m = /^\/moved(\/.*)$/.exec(pathname);
  if (m) return pass(m[1]);
  m = /^\/chain\/([0-9]+)(\/.*)$/.exec(pathname);
  if (m) {
    const k = Number(m[1]);
    return k > 0 ? redirect(res, 301, `/chain/${k - 1}${m[2]}`) : pass(m[2]);
  }
  m = /^\/loop(\/.*)$/.exec(pathname);
  if (m) return redirect(res, 301, m[1]);
  if (mode === 'redirect-slash' && WELL_KNOWN.includes(pathname.replace(/\/$/, '')) && pathname.endsWith('/')) {
    return pass(pathname.slice(0, -1));
  }
  if (isDiscovery) {
    switch (mode) {
      case 'redirect-slash':
        return redirect(res, num(301), `${pathname.split('/').pop()}/`);
      case 'redirect-absolute':
        return redirect(res, num(302), `${origin}/moved${pathname}`);
      case 'redirect-http':
        return redirect(res, 301, `${origin.replace(/^https:/, 'http:')}/moved${pathname}`);
      case 'redirect-host':
        return redirect(res, 301, `${origin.replace('127.0.0.1', 'localhost')}/moved${pathname}`);
      case 'redirect-port':
        return redirect(res, 301, `${upstream()}${pathname}`);
      case 'redirect-chain':
        return redirect(res, 301, `/chain/${num(3) - 1}${pathname}`);
      case 'redirect-loop':
        return redirect(res, 301, `/loop${pathname}`);
      case 'redirect-issuer':
        return redirect(res, 302, `/m/ok${pathname}`);
      case 'redirect-big':
        return redirect(res, 302, `/m/discovery-big${pathname}`);
      case 'redirect-stall':
        return redirect(res, 302, `/m/discovery-stall:${num(20)}${pathname}`);
      default:
        break;
    }
  }
  if (mode === 'redirect-jwks' && pathname === '/jwks') return redirect(res, num(301), '/moved/jwks');
  if (mode === 'redirect-token' && req.method === 'POST') return redirect(res, num(307), `/moved${pathname}`);
  return pass(pathname);
}

async function handle(req, res, body) {
  const url = new URL(req.url, origin);
  let { pathname } = url;
  let prefix = '';
  let { mode, arg } = modeFromFile();
  const m = /^\/m\/([a-z0-9-]+)(?::([0-9]+))?(\/.*)?$/.exec(pathname);
  if (m) {
    prefix = `/m/${m[1]}${m[2] !== undefined ? `:${m[2]}` : ''}`;
    [, mode, arg] = m;
    pathname = m[3] || '/';
  }
  const prefixUrl = `${origin}${prefix}`;
  const num = (d) => (arg !== undefined && arg !== '' ? Number(arg) : d);
  const isDiscovery = pathname === '/.well-known/openid-configuration'
    || pathname === '/.well-known/oauth-authorization-server'
    || pathname === '/.well-known/smart-configuration';

  if (mode.startsWith('redirect-')) return redirectMode(req, res, body, mode, arg, pathname, url.search);
  if (mode === 'pass' || mode.startsWith('tls-')) {
    if (!upstream()) return send(res, 500, { error: 'server_error', error_description: 'pass mode without an upstream' });
    return forward(req, res, `${pathname}${url.search}`, body);
  }
  if (mode === 'slow-pass') {
    if (!upstream()) return send(res, 500, { error: 'server_error', error_description: 'slow-pass mode without an upstream' });
    return forwardSlow(req, res, `${pathname}${url.search}`, body, num(500));
  }

  if (isDiscovery) {
    switch (mode) {
      case 'issuer-mismatch':
        return send(res, 200, discoveryDoc(prefixUrl, `${origin}/m/some-other-issuer`));
      case 'discovery-nonjson':
        return send(res, 200, '<html><body>Welcome to nginx!</body></html>', 'text/html');
      case 'discovery-500':
        return send(res, 500, '<html><body>500 Internal Server Error</body></html>', 'text/html');
      case 'discovery-redirect': {
        const target = upstream() ? `${upstream()}${pathname}` : `${origin}/m/ok${pathname}`;
        res.writeHead(302, { Location: target, 'Content-Length': 0 });
        res.end();
        return 302;
      }
      case 'discovery-big':
        return send(res, 200, padJson(discoveryDoc(prefixUrl, prefixUrl), num(300)));
      case 'discovery-stall':
        await sleep(num(30) * 1000);
        return send(res, 200, discoveryDoc(prefixUrl, prefixUrl));
      case 'reset':
      case 'close':
      case 'stall':
      case 'stall-body':
        break; // those hit discovery too
      default:
        return send(res, 200, discoveryDoc(prefixUrl, prefixUrl));
    }
  }

  switch (mode) {
    case 'issuer-mismatch':
    case 'discovery-nonjson':
    case 'discovery-500':
    case 'discovery-redirect':
    case 'discovery-big':
    case 'discovery-stall':
      // A client that ignored the broken discovery would reach the real AS
      // and succeed: the test can tell.
      if (upstream()) return forward(req, res, `${pathname}${url.search}`, body);
      // falls through
    case 'ok':
      if (pathname.endsWith('/revocation')) return send(res, 200, '');
      return send(res, 200, tokenResponse());
    case 'big-refresh':
    case 'big-access': {
      if (pathname.endsWith('/revocation')) return send(res, 200, '');
      const r = tokenResponse();
      const n = Math.max(16, Math.min(num(4000), 16000));
      const key = mode === 'big-refresh' ? 'refresh_token' : 'access_token';
      r[key] = `${r[key]}${crypto.randomBytes(n).toString('hex')}`.slice(0, n);
      return send(res, 200, r);
    }
    case 'nonjson':
      return send(res, 200, '<html><body><h1>Service Temporarily Unavailable</h1></body></html>', 'text/html');
    case 'truncated': {
      const s = JSON.stringify(tokenResponse());
      return send(res, 200, s.slice(0, Math.floor(s.length / 2)));
    }
    case 'array':
      return send(res, 200, [tokenResponse()]);
    case 'empty':
      return send(res, 200, '');
    case 'no-access-token': {
      const t = tokenResponse();
      delete t.access_token;
      return send(res, 200, t);
    }
    case 'access-token-number':
      return send(res, 200, { ...tokenResponse(), access_token: 12345 });
    case 'expires-in-string':
      return send(res, 200, { ...tokenResponse(), expires_in: 'soon' });
    case 'token-type-mac':
      return send(res, 200, { ...tokenResponse(), token_type: 'mac' });
    case 'http500':
      return send(res, 500, '<html><body>500 Internal Server Error</body></html>', 'text/html');
    case 'http503':
      return send(res, 503, { error: 'temporarily_unavailable' }, 'application/json', { 'Retry-After': '1' });
    case 'invalid-grant':
      return send(res, 400, { error: 'invalid_grant', error_description: 'fault server says no' });
    case 'invalid-client':
      return send(res, 401, { error: 'invalid_client', error_description: 'fault server says no' });
    case 'big-cl':
      return send(res, 200, padJson(tokenResponse(), num(300)));
    case 'big-chunked': {
      const buf = Buffer.from(padJson(tokenResponse(), num(300)));
      res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
      for (let off = 0; off < buf.length; off += 16384) {
        if (!res.write(buf.subarray(off, off + 16384))) {
          // eslint-disable-next-line no-await-in-loop
          await new Promise((resolve) => {
            const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
            res.once('drain', done);
            res.once('close', done);
          });
          if (res.destroyed) return 200;
        }
      }
      res.end();
      return 200;
    }
    case 'stall':
      await sleep(num(30) * 1000);
      if (res.destroyed) return 0;
      return send(res, 200, tokenResponse());
    case 'stall-body': {
      const s = JSON.stringify(tokenResponse());
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': s.length });
      res.flushHeaders();
      await sleep(num(30) * 1000);
      if (!res.destroyed) res.end(s);
      return 200;
    }
    case 'redirect': {
      const code = num(302);
      const target = upstream() ? `${upstream()}${pathname}` : `${origin}/m/ok${pathname}`;
      res.writeHead(code, { Location: target, 'Content-Length': 0 });
      res.end();
      return code;
    }
    case 'reset': {
      // A TLS socket cannot send a RST itself: reset the TCP socket under it.
      const rawSock = rawSockets.get(`${req.socket.remoteAddress}:${req.socket.remotePort}`);
      if (rawSock && typeof rawSock.resetAndDestroy === 'function') rawSock.resetAndDestroy();
      else req.socket.destroy();
      return 0;
    }
    case 'close':
      req.socket.destroy();
      return 0;
    default:
      return send(res, 500, { error: 'server_error', error_description: `fault.js: unknown mode ${mode}` });
  }
}

const server = https.createServer({
  key: fs.readFileSync(conf.key),
  cert: fs.readFileSync(conf.cert),
}, (req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size <= 1024 * 1024) chunks.push(c);
  });
  req.on('end', async () => {
    let status;
    let mode;
    try {
      mode = (/^\/m\/([a-z0-9-]+)/.exec(req.url) || [])[1] || modeFromFile().mode;
      status = await handle(req, res, Buffer.concat(chunks));
    } catch (err) {
      status = 500;
      if (!res.headersSent) send(res, 500, { error: 'server_error', error_description: String(err.message) });
    }
    logEvent({
      method: req.method, path: req.url.split('?')[0], mode, status: typeof status === 'number' ? status : res.statusCode,
    });
  });
});
// tls-NAME modes (mode file only: TLS comes before the path): present the
// --alt-cert NAME certificate to new connections, and pass requests on.
// This listener runs before the TLS server's own, so the context chosen
// here is the one the connection's handshake uses.
const defaultCreds = { key: fs.readFileSync(conf.key), cert: fs.readFileSync(conf.cert) };
const altCreds = Object.fromEntries(Object.entries(conf.altCerts).map(([n, f]) => [
  n, { key: fs.readFileSync(f.key), cert: fs.readFileSync(f.cert) }]));
let currentCreds = 'default';
server.prependListener('connection', () => {
  let want = 'default';
  try {
    const { mode } = modeFromFile();
    if (mode.startsWith('tls-') && altCreds[mode.slice(4)]) want = mode.slice(4);
  } catch (err) {
    want = 'default';
  }
  if (want !== currentCreds) {
    server.setSecureContext(want === 'default' ? defaultCreds : altCreds[want]);
    currentCreds = want;
  }
});

// The TCP sockets under the TLS ones, for the reset mode.
const rawSockets = new Map();
server.on('connection', (sock) => {
  const key = `${sock.remoteAddress}:${sock.remotePort}`;
  rawSockets.set(key, sock);
  sock.on('close', () => rawSockets.delete(key));
});
server.on('tlsClientError', (err) => {
  logEvent({ event: 'tls_error', error: err.code || err.message });
});

server.listen(conf.port, '127.0.0.1', () => {
  const { port } = server.address();
  origin = `https://127.0.0.1:${port}`;
  if (conf.pidFile) writeAtomic(conf.pidFile, `${process.pid}\n`);
  if (conf.portFile) writeAtomic(conf.portFile, `${port}\n`);
  process.stdout.write(`fault.js: ${origin}${conf.upstream || conf.upstreamPortFile ? ` (upstream ${conf.upstream || `port in ${conf.upstreamPortFile}`})` : ''}\n`);
});

const stop = () => {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
