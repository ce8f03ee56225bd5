// A fake Revolut Business API on loopback, for core/tests/services_revolut.rs. It behaves as
// developer.revolut.com's "Make your first API request" describes, and checks what it receives
// with Node's own X.509 and RSA code (not Area's), so a certificate or an assertion that a real
// parser would refuse fails the test:
//
//   node tests/revolut-server/server.mjs     (no npm packages needed)
//
// It listens on 127.0.0.1 (an OS-chosen port), prints exactly one line `READY http://127.0.0.1:<port>`
// once it accepts requests, and exits when its stdin closes.
//
// Routes:
// - `POST /test/certificates` {certificate, redirect_uri} → {client_id}: what the user does in
//   Revolut Business (Settings → APIs → Business API → add an API certificate). The certificate
//   must parse as X.509 and hold an RSA key of at least 2048 bits; the redirect URI must be https.
// - `GET /app-confirm?client_id&redirect_uri&response_type=code&scope` → 302 to the redirect URI
//   with `?code=oa_sand_…`: the consent (always granted). The redirect URI must be the registered
//   one, exactly.
// - `POST /api/1.0/auth/token` (form): `grant_type=authorization_code` + `code`, or
//   `grant_type=refresh_token` + `refresh_token`, each with
//   `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and a
//   `client_assertion`: an RS256 JWT whose signature verifies with the uploaded certificate's
//   key, `iss` = the registered redirect URI's host, `sub` = the client id, `aud` =
//   `https://revolut.com`, `exp` in the future (at most an hour away), and a `jti` never seen
//   before. Codes are single-use. Answers `{access_token, token_type, expires_in, refresh_token}`
//   (a refresh answers no new refresh token, as Revolut does). Refusals are 400
//   `{"error": …, "error_description": …}`.
// - `GET /api/1.0/transactions` with `Authorization: Bearer <a live access token>` → the
//   transactions posted to `/test/transactions`; an expired or unknown token → 401
//   `{"code": 9002, "message": "The request is unauthorised"}`.
// - `POST /test/transactions` (a JSON array) replaces the list; `POST /test/expire` expires every
//   access token now; `POST /test/revoke` revokes every refresh token; `GET /test/log` lists the
//   token requests accepted and refused (`{grant_type, ok, why}`).
//
// `TOKEN_TTL` (seconds, default 2399 like Revolut) sets `expires_in`.
import http from 'node:http';
import crypto from 'node:crypto';

const TTL = Number.parseInt(process.env.TOKEN_TTL ?? '2399', 10);
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

const clients = new Map(); // client_id → {key, redirect_uri, issuer}
const codes = new Map(); // code → client_id
const accessTokens = new Map(); // token → {client_id, expires}
const refreshTokens = new Map(); // token → client_id
const seenJti = new Set();
const log = [];
let transactions = [];

const random = (prefix) => `${prefix}${crypto.randomBytes(18).toString('base64url')}`;

function send(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** Checks a client assertion; returns the client id, or throws the reason. */
function verifyAssertion(jwt) {
  const parts = (jwt ?? '').split('.');
  if (parts.length !== 3) throw new Error('the client assertion is not a compact JWT');
  const [h, p, s] = parts;
  const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  if (header.alg !== 'RS256') throw new Error(`alg ${header.alg} is not RS256`);
  const client = clients.get(payload.sub);
  if (!client) throw new Error(`sub ${payload.sub} is no registered client`);
  const ok = crypto.verify('RSA-SHA256', Buffer.from(`${h}.${p}`), client.key, Buffer.from(s, 'base64url'));
  if (!ok) throw new Error('the signature does not verify with the uploaded certificate');
  if (payload.iss !== client.issuer) throw new Error(`iss ${payload.iss} is not ${client.issuer}`);
  if (payload.aud !== 'https://revolut.com') throw new Error(`aud ${payload.aud} is not https://revolut.com`);
  const now = Math.floor(Date.now() / 1000);
  if (!(payload.exp > now)) throw new Error('the assertion has expired');
  if (payload.exp > now + 3600) throw new Error('the assertion lives longer than an hour');
  if (!payload.jti || seenJti.has(payload.jti)) throw new Error('the assertion is a replay (jti seen before)');
  seenJti.add(payload.jti);
  return payload.sub;
}

function issueTokens(clientId, withRefresh) {
  const access = random('oa_sand_');
  accessTokens.set(access, { clientId, expires: Date.now() + TTL * 1000 });
  const body = { access_token: access, token_type: 'bearer', expires_in: TTL };
  if (withRefresh) {
    const refresh = random('oa_sand_r');
    refreshTokens.set(refresh, clientId);
    body.refresh_token = refresh;
  }
  return body;
}

async function token(req, res) {
  if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
    return send(res, 400, { error: 'invalid_request', error_description: 'form-encoded body expected' });
  }
  const form = new URLSearchParams(await readBody(req));
  const grantType = form.get('grant_type');
  const refuse = (error, why) => {
    log.push({ grant_type: grantType, ok: false, why });
    send(res, 400, { error, error_description: why });
  };
  if (form.get('client_assertion_type') !== JWT_BEARER) return refuse('invalid_client', 'client_assertion_type');
  let clientId;
  try {
    clientId = verifyAssertion(form.get('client_assertion'));
  } catch (e) {
    return refuse('invalid_client', e.message);
  }
  if (grantType === 'authorization_code') {
    const code = form.get('code');
    if (codes.get(code) !== clientId) return refuse('invalid_grant', 'unknown or used code');
    codes.delete(code);
    log.push({ grant_type: grantType, ok: true });
    return send(res, 200, issueTokens(clientId, true));
  }
  if (grantType === 'refresh_token') {
    if (refreshTokens.get(form.get('refresh_token')) !== clientId) return refuse('invalid_grant', 'refresh token');
    log.push({ grant_type: grantType, ok: true });
    return send(res, 200, issueTokens(clientId, false));
  }
  return refuse('unsupported_grant_type', String(grantType));
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://127.0.0.1');
    const route = `${req.method} ${url.pathname}`;
    if (route === 'POST /test/certificates') {
      const { certificate, redirect_uri: redirect } = JSON.parse(await readBody(req));
      const cert = new crypto.X509Certificate(certificate);
      const key = cert.publicKey;
      if (key.asymmetricKeyType !== 'rsa' || key.asymmetricKeyDetails.modulusLength < 2048) {
        return send(res, 400, { message: 'an RSA certificate of at least 2048 bits is required' });
      }
      if (!cert.checkIssued(cert) || !cert.verify(key)) return send(res, 400, { message: 'not self-signed' });
      const target = new URL(redirect);
      if (target.protocol !== 'https:') return send(res, 400, { message: 'the redirect URI must be https' });
      const clientId = random('client-');
      clients.set(clientId, { key, redirect_uri: redirect, issuer: target.hostname });
      return send(res, 200, { client_id: clientId, subject: cert.subject });
    }
    if (route === 'GET /app-confirm') {
      const q = url.searchParams;
      const client = clients.get(q.get('client_id'));
      if (!client) return send(res, 400, { message: 'unknown client_id' });
      if (q.get('redirect_uri') !== client.redirect_uri) return send(res, 400, { message: 'redirect_uri mismatch' });
      if (q.get('response_type') !== 'code') return send(res, 400, { message: 'response_type must be code' });
      const code = random('oa_sand_c');
      codes.set(code, q.get('client_id'));
      const back = new URL(client.redirect_uri);
      back.searchParams.set('code', code);
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (route === 'POST /api/1.0/auth/token') return await token(req, res);
    if (route === 'GET /api/1.0/transactions') {
      const bearer = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      const live = accessTokens.get(bearer);
      if (!live || live.expires <= Date.now()) {
        return send(res, 401, { code: 9002, message: 'The request is unauthorised' });
      }
      return send(res, 200, transactions);
    }
    if (route === 'POST /test/transactions') {
      transactions = JSON.parse(await readBody(req));
      return send(res, 200, { count: transactions.length });
    }
    if (route === 'POST /test/expire') {
      for (const t of accessTokens.values()) t.expires = 0;
      return send(res, 200, {});
    }
    if (route === 'POST /test/revoke') {
      refreshTokens.clear();
      return send(res, 200, {});
    }
    if (route === 'GET /test/log') return send(res, 200, log);
    return send(res, 404, { code: 3000, message: `no route ${route}` });
  } catch (e) {
    return send(res, 400, { message: String(e.message ?? e) });
  }
});

server.listen(0, '127.0.0.1', () => {
  console.log(`READY http://127.0.0.1:${server.address().port}`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
