#!/usr/bin/env node
// selftest/pkjwt.js - a self-check of as.js's --jwt-client-jwks (the
// private_key_jwt client fhir-jwt, RFC 7523) and --client-credentials (the
// client_credentials grant with system/* scopes, SMART Backend Services),
// and of fhir.js taking such a token.  Prints TAP.
//
// Usage:
//   node src/selftest/pkjwt.js --make-keys DIR
//       writes DIR/jwt-client.jwks (the private keys: RSA 2048 "rsa-1",
//       P-384 "ec384-1", P-256 "ec256-1") and DIR/jwt-client.pub.jwks (their
//       public halves, for as.js --jwt-client-jwks)
//   FA_AS_URL=https://127.0.0.1:PORT FA_CA=ca.pem FA_FHIR=https://.../fhir \
//   FA_JWT_CLIENT_KEYS=DIR/jwt-client.jwks node src/selftest/pkjwt.js
//       the checks, against an AS started with --jwt-client-jwks (the public
//       file) and --client-credentials on, and a FHIR server in front of it
//       (without --dpop nonce: the tokens here are bearer tokens)

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { exportJWK } from 'jose';

import {
  plan, ok, is, diag, main, env, request, statusOf, clientAssertion,
} from './lib.js';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

async function makeKeys(dir) {
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const p384 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const p256 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const priv = [];
  const pub = [];
  for (const [kid, pair] of [['rsa-1', rsa], ['ec384-1', p384], ['ec256-1', p256]]) {
    priv.push({ ...await exportJWK(pair.privateKey), kid });
    pub.push({ ...await exportJWK(pair.publicKey), kid });
  }
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'jwt-client.jwks'), `${JSON.stringify({ keys: priv })}\n`, { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'jwt-client.pub.jwks'), `${JSON.stringify({ keys: pub })}\n`);
}

async function checks() {
  const as = env('FA_AS_URL');
  const fhir = env('FA_FHIR', false);
  const keys = JSON.parse(fs.readFileSync(env('FA_JWT_CLIENT_KEYS'), 'utf8')).keys;
  const kid = (k) => keys.find((j) => j.kid === k);
  const rsa = kid('rsa-1');
  const ec384 = kid('ec384-1');
  const ec256 = kid('ec256-1');

  plan(34);

  const disc = (await request('GET', `${as}/.well-known/openid-configuration`)).json;
  const tokenUrl = disc.token_endpoint;
  ok((disc.token_endpoint_auth_methods_supported || []).includes('private_key_jwt'),
    'discovery: private_key_jwt among the token endpoint auth methods');
  is(JSON.stringify(disc.token_endpoint_auth_signing_alg_values_supported),
    JSON.stringify(['RS256', 'RS384', 'ES256', 'ES384']),
    'discovery: assertions RS256, RS384, ES256, ES384');
  ok((disc.grant_types_supported || []).includes('client_credentials'),
    'discovery: client_credentials among the grants');
  ok((disc.scopes_supported || []).includes('system/*.rs'), 'discovery: system/*.rs among the scopes');

  // The password grant, authenticated by an assertion.
  const password = async (assertion, extra = {}) => request('POST', tokenUrl, {
    form: {
      grant_type: 'password',
      username: 'alice',
      password: 'alice-secret',
      scope: 'openid offline_access patient/*.read',
      client_id: 'fhir-jwt',
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: assertion,
      ...extra,
    },
  });

  const first = await clientAssertion(rsa, 'RS384', 'fhir-jwt', tokenUrl);
  let r = await password(first);
  is(statusOf(r), '200', 'password grant, RS384 assertion, aud = token endpoint: 200');
  is(r.json?.token_type, 'Bearer', '... token_type Bearer');
  const refresh = r.json?.refresh_token;
  ok(typeof refresh === 'string', '... with a refresh token');

  for (const [key, alg] of [[ec384, 'ES384'], [rsa, 'RS256'], [ec256, 'ES256']]) {
    // eslint-disable-next-line no-await-in-loop
    r = await password(await clientAssertion(key, alg, 'fhir-jwt', tokenUrl));
    is(statusOf(r), '200', `password grant, ${alg} assertion: 200`);
  }

  r = await password(first);
  is(statusOf(r), '401 invalid_client', 'the same assertion again (jti replayed): 401 invalid_client');

  r = await password(await clientAssertion(rsa, 'RS384', 'fhir-jwt', as));
  is(statusOf(r), '200', 'aud = the issuer: accepted (oidc-provider takes it)');

  r = await password(await clientAssertion(rsa, 'RS384', 'fhir-jwt', [tokenUrl, 'https://elsewhere.example/']));
  is(statusOf(r), '200', 'aud an array that holds the token endpoint: accepted');

  r = await password(await clientAssertion(rsa, 'RS384', 'fhir-jwt', 'https://elsewhere.example/token'));
  is(statusOf(r), '401 invalid_client', 'aud another server: 401 invalid_client');

  r = await password(await clientAssertion(rsa, 'RS512', 'fhir-jwt', tokenUrl));
  is(statusOf(r), '401 invalid_client', 'RS512 (not enabled): 401 invalid_client');

  const stranger = { ...await exportJWK(crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey), kid: 'rsa-1' };
  r = await password(await clientAssertion(stranger, 'RS384', 'fhir-jwt', tokenUrl));
  is(statusOf(r), '401 invalid_client', 'signed by a key not registered (same kid): 401 invalid_client');

  const now = Math.floor(Date.now() / 1000);
  r = await password(await clientAssertion(rsa, 'RS384', 'fhir-jwt', tokenUrl, { iat: now - 600, exp: now - 300 }));
  is(statusOf(r), '401 invalid_client', 'expired assertion: 401 invalid_client');

  r = await password(await clientAssertion(rsa, 'RS384', 'fhir-jwt', tokenUrl, { jti: undefined }));
  is(statusOf(r), '401 invalid_client', 'assertion without jti: 401 invalid_client');

  r = await password(await clientAssertion(rsa, 'RS384', 'fhir-other', tokenUrl));
  is(statusOf(r), '400 invalid_request', 'iss and sub another client than the body\'s client_id: 400 invalid_request');
  r = await password(await clientAssertion(rsa, 'RS384', 'fhir-other', tokenUrl), { client_id: undefined });
  is(statusOf(r), '401 invalid_client', 'iss and sub an unknown client, no client_id: 401 invalid_client');

  r = await request('POST', tokenUrl, {
    form: {
      grant_type: 'password', username: 'alice', password: 'alice-secret', client_id: 'fhir-jwt',
    },
  });
  is(statusOf(r), '401 invalid_client', 'no client authentication: 401 invalid_client');

  r = await request('POST', tokenUrl, {
    basic: ['fhir-jwt', 'a-guessed-secret'],
    form: { grant_type: 'password', username: 'alice', password: 'alice-secret' },
  });
  is(statusOf(r), '401 invalid_client', 'client_secret_basic for the private_key_jwt client: 401 invalid_client');

  // Refresh, device authorization, revocation: each with its own assertion.
  r = await request('POST', tokenUrl, {
    form: {
      grant_type: 'refresh_token',
      refresh_token: refresh,
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: await clientAssertion(ec384, 'ES384', 'fhir-jwt', tokenUrl),
    },
  });
  is(statusOf(r), '200', 'refresh with an ES384 assertion: 200');
  const refresh2 = r.json?.refresh_token;

  r = await request('POST', disc.device_authorization_endpoint, {
    form: {
      client_id: 'fhir-jwt',
      scope: 'openid',
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: await clientAssertion(rsa, 'RS384', 'fhir-jwt', tokenUrl),
    },
  });
  ok(r.status === 200 && typeof r.json?.device_code === 'string',
    'device authorization, assertion aud = token endpoint: 200 with a device_code', statusOf(r));
  r = await request('POST', tokenUrl, {
    form: {
      grant_type: DEVICE_GRANT,
      device_code: r.json?.device_code ?? 'none',
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: await clientAssertion(rsa, 'RS384', 'fhir-jwt', tokenUrl),
    },
  });
  is(statusOf(r), '400 authorization_pending', 'device code polled with an assertion: authorization_pending');

  r = await request('POST', disc.revocation_endpoint, {
    form: {
      token: refresh2 ?? 'none',
      token_type_hint: 'refresh_token',
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: await clientAssertion(ec256, 'ES256', 'fhir-jwt', tokenUrl),
    },
  });
  is(statusOf(r), '200', 'revocation with an assertion (aud = token endpoint): 200');
  r = await request('POST', tokenUrl, {
    form: {
      grant_type: 'refresh_token',
      refresh_token: refresh2 ?? 'none',
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: await clientAssertion(ec256, 'ES256', 'fhir-jwt', tokenUrl),
    },
  });
  is(statusOf(r), '400 invalid_grant', 'the revoked refresh token: invalid_grant');

  // client_credentials (SMART Backend Services).
  const cc = async (extra) => request('POST', tokenUrl, {
    form: {
      grant_type: 'client_credentials',
      scope: 'system/*.rs',
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: await clientAssertion(rsa, 'RS384', 'fhir-jwt', tokenUrl),
      ...extra,
    },
  });
  r = await cc({});
  is(statusOf(r), '200', 'client_credentials, system/*.rs, RS384 assertion: 200');
  ok(r.json?.token_type === 'Bearer' && r.json?.scope === 'system/*.rs'
    && r.json?.refresh_token === undefined && r.json?.id_token === undefined
    && typeof r.json?.expires_in === 'number'
    && (!process.env.FA_TTL || r.json.expires_in === Number(process.env.FA_TTL)),
  '... a Bearer token for system/*.rs, expires_in the access token TTL, no refresh token, no id_token', r.json);
  const ccToken = r.json?.access_token ?? 'none';

  r = await request('POST', disc.introspection_endpoint, {
    basic: ['fhir-rs', 'rs-secret'], form: { token: ccToken },
  });
  ok(r.json?.active === true && r.json?.client_id === 'fhir-jwt' && r.json?.sub === undefined
    && r.json?.token_type === 'Bearer',
  'introspection: active, client_id fhir-jwt, no sub, token_type Bearer', r.json);

  if (fhir) {
    r = await request('GET', `${fhir}/Patient/example`, { headers: { Authorization: `Bearer ${ccToken}` } });
    is(r.status, 200, 'the FHIR server takes the client_credentials token');
  } else {
    ok(true, '# SKIP no FA_FHIR');
  }

  r = await cc({ scope: 'system/*.rs openid' });
  diag(`client_credentials with "system/*.rs openid": ${statusOf(r)} scope ${JSON.stringify(r.json?.scope)}`);
  r = await cc({ scope: 'system/Unknown.rs' });
  ok(r.status === 200 && r.json?.scope === undefined,
    'client_credentials, an undeclared scope: 200, the scope dropped (oidc-provider)', r.json);

  r = await request('POST', tokenUrl, {
    basic: ['fhir-conf', 'conf-secret'], form: { grant_type: 'client_credentials', scope: 'system/*.read' },
  });
  is(statusOf(r), '200', 'client_credentials for fhir-conf (client_secret_basic): 200');

  r = await request('POST', tokenUrl, {
    form: { grant_type: 'client_credentials', client_id: 'fhir-cli', scope: 'system/*.rs' },
  });
  is(statusOf(r), '400 invalid_request', 'client_credentials for the public client fhir-cli: 400 invalid_request');
}

const args = process.argv.slice(2);
if (args[0] === '--make-keys' && args[1]) {
  makeKeys(args[1]).catch((err) => {
    process.stderr.write(`pkjwt.js: ${err.stack || err}\n`);
    process.exit(1);
  });
} else if (args.length === 0) {
  main(checks);
} else {
  process.stderr.write('usage: pkjwt.js [--make-keys DIR]\n');
  process.exit(2);
}
