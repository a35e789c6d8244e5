#!/usr/bin/env node
// launcher-tls.js - the SMART on FHIR reference launcher's backend
// (github.com/smart-on-fhir/smart-launcher-v2, unmodified; nobody here
// wrote it) served over HTTPS on 127.0.0.1 for pam_fhir's integration tests.
//
// Usage: node src/launcher-tls.js --launcher DIR --key KEY.pem --cert CERT.pem
//          [--ca CA.pem] [--fhir-server URL] [--access-token-lifetime MIN]
//          [--port N] [--port-file F] [--log EVENTS.jsonl]
//
//   --launcher DIR   the launcher's source tree (backend/, src/isomorphic/,
//                    package.json, its demo keys) with its npm packages
//                    reachable from DIR (DIR/node_modules; scripts/
//                    install-deps installs them, tests/servers/
//                    launcher-deps.js says which)
//   --fhir-server    the FHIR R4 server its proxy forwards to (the
//                    launcher's FHIR_SERVER_R4)
//   --access-token-lifetime  minutes (its ACCESS_TOKEN_LIFETIME; 0.1 =
//                    6 s; minutes * 60 must come out whole in floating
//                    point, or its token endpoint fails)
//   --ca             a CA the proxy trusts for --fhir-server, beside the
//                    system's
//   --log            one JSON line per request: method, path (the launch
//                    settings segment shown as SIM, no query), status, and
//                    for the token endpoint the grant_type; never a token,
//                    code or secret
//
// The launcher listens on plain HTTP when run as its own main module; here
// its express app (backend/index.ts's default export, loaded with ts-node
// --transpile-only as its start script does) is handed to
// https.createServer instead.  Nothing of the launcher is changed.

import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { createRequire } from 'node:module';

function usageError(message) {
  const err = new Error(message);
  err.usage = true;
  return err;
}

function parseArgs(argv) {
  const map = {
    '--launcher': 'launcher',
    '--key': 'key',
    '--cert': 'cert',
    '--ca': 'ca',
    '--fhir-server': 'fhirServer',
    '--access-token-lifetime': 'accessTokenLifetime',
    '--port': 'port',
    '--port-file': 'portFile',
    '--log': 'log',
  };
  const out = { port: 0 };
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
  out.port = Number(out.port);
  if (!Number.isInteger(out.port) || out.port < 0) throw usageError('bad port');
  if (!out.launcher || !out.key || !out.cert) throw usageError('--launcher, --key and --cert are required');
  if (out.accessTokenLifetime !== undefined && !(Number(out.accessTokenLifetime) > 0)) {
    throw usageError('--access-token-lifetime: minutes, a number above 0');
  }
  return out;
}

function writeAtomic(file, text) {
  const tmp = `${file}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

async function main() {
  const conf = parseArgs(process.argv.slice(2));
  const dir = path.resolve(conf.launcher);

  // The launcher reads its settings from the environment when its config
  // module loads.
  if (conf.fhirServer) process.env.FHIR_SERVER_R4 = conf.fhirServer;
  if (conf.accessTokenLifetime) process.env.ACCESS_TOKEN_LIFETIME = conf.accessTokenLifetime;
  process.env.NODE_ENV = 'production';
  // The proxy's requests (cross-fetch over node's https.globalAgent).
  if (conf.ca) {
    https.globalAgent.options.ca = [...tls.rootCertificates, fs.readFileSync(conf.ca, 'utf8')];
  }

  const t0 = Date.now();
  const require = createRequire(path.join(dir, 'backend', 'index.ts'));
  require('ts-node').register({ transpileOnly: true, skipProject: true });
  const app = require('./index.ts').default;
  if (typeof app !== 'function') throw new Error(`${dir}/backend/index.ts exports no express app`);

  const logFd = conf.log ? fs.openSync(conf.log, 'a', 0o600) : null;
  const server = https.createServer({
    key: fs.readFileSync(conf.key),
    cert: fs.readFileSync(conf.cert),
  }, (req, res) => {
    if (logFd !== null) {
      res.on('finish', () => {
        const p = (req.originalUrl || req.url).split('?')[0].replace(/\/sim\/[^/]+/, '/sim/SIM');
        const grant = req.body && typeof req.body === 'object' ? req.body.grant_type : undefined;
        fs.writeSync(logFd, `${JSON.stringify({
          ts: Date.now() / 1000, method: req.method, path: p, status: res.statusCode,
          ...(typeof grant === 'string' ? { grant_type: grant } : {}),
        })}\n`);
      });
    }
    app(req, res);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(conf.port, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  if (conf.portFile) writeAtomic(conf.portFile, `${port}\n`);
  process.stdout.write(`launcher-tls.js: https://127.0.0.1:${port} (launcher loaded in ${Date.now() - t0} ms; FHIR server ${process.env.FHIR_SERVER_R4})\n`);

  const stop = () => {
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  const msg = err && err.usage ? err.message : (err && err.stack) || err;
  process.stderr.write(`launcher-tls.js: ${msg}\n`);
  process.exit(err && err.usage ? 2 : 1);
});
