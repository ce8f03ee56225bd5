// A real OAuth2 / OpenID Connect authorization server on loopback, for core/tests/oauth_flow.rs.
// TEST ONLY: in-memory storage, development signing keys, a fixed cookie key, and an interaction
// route that logs in the fixed account "alice" and consents to everything without asking.
//
//   npm ci --prefix tests/oauth-server && PORT=0 node tests/oauth-server/server.mjs
//
// It listens on 127.0.0.1:$PORT (0 or unset: an OS-chosen port) and prints exactly one line
// `READY http://127.0.0.1:<port>` on stdout once it accepts requests. It exits when its stdin
// closes, so a test that spawns it with a piped stdin never leaves it running.
//
// Clients:
// - `area-test`: public native client (no secret, PKCE S256 required). Loopback redirects match
//   on any port (RFC 8252 §7.3); refresh tokens are rotated on every use, and replaying a
//   rotated refresh token revokes the whole grant (RFC 9700 §4.14).
// - `area-test-confidential` / secret `test-only-secret` (client_secret_basic): refresh returns
//   the same refresh token (no rotation), like Google.
// - `area-test-entra`: public native client registered like a Microsoft Entra ID desktop app,
//   with `http://localhost/callback`: only the port of a loopback redirect is ignored, so the
//   host (`localhost`, not `127.0.0.1`) and the path must match.
import http from 'node:http';

const nodeMajor = Number.parseInt(process.versions.node.split('.')[0], 10);
if (nodeMajor < 20) {
  console.error(`tests/oauth-server needs Node.js 20 or later (oidc-provider 9); this is ${process.version}`);
  process.exit(1);
}
const { default: Provider, errors } = await import('oidc-provider');

const requestedPort = Number.parseInt(process.env.PORT ?? '0', 10) || 0;
const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(requestedPort, '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const common = {
  application_type: 'native',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: ['http://127.0.0.1/callback'],
};

const provider = new Provider(issuer, {
  clients: [
    { ...common, client_id: 'area-test', token_endpoint_auth_method: 'none' },
    {
      ...common,
      client_id: 'area-test-entra',
      token_endpoint_auth_method: 'none',
      redirect_uris: ['http://localhost/callback'],
    },
    {
      ...common,
      client_id: 'area-test-confidential',
      client_secret: 'test-only-secret',
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  pkce: { required: () => true },
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  // Issue a refresh token to every client allowed the grant, whatever the scope (providers such
  // as Spotify do; it saves the test from needing `offline_access` + `prompt=consent`).
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: (ctx) => ctx.oidc.entities.Client.clientAuthMethod === 'none',
  features: {
    devInteractions: { enabled: false },
    revocation: { enabled: true },
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (_ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub, email: `${sub}@example.test`, name: 'Alice Test' }),
  }),
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    IdToken: 600,
    Interaction: 600,
    Grant: 3600,
    Session: 3600,
    RefreshToken: 3600,
  },
  cookies: { keys: ['test-only-cookie-key'] },
});

// Unexpected failures inside the provider go to stderr (the Rust test shows it if startup fails).
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

// The interaction route: log "alice" in and grant everything that was asked for, at once.
provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([^/]+)$/.exec(ctx.path);
  if (!match || ctx.method !== 'GET') {
    return next();
  }
  try {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const accountId = details.session?.accountId ?? 'alice';
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId, clientId: details.params.client_id });
    if (details.params.scope) {
      grant.addOIDCScope(details.params.scope);
    }
    grant.addOIDCClaims(['sub', 'email', 'name']);
    const grantId = await grant.save();
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, {
      login: { accountId },
      consent: { grantId },
    });
    ctx.status = 303;
    ctx.redirect(returnTo);
  } catch (err) {
    if (err instanceof errors.SessionNotFound) {
      ctx.status = 400;
      ctx.body = 'interaction session not found (cookies missing?)';
      return undefined;
    }
    throw err;
  }
  return undefined;
});

server.on('request', provider.callback());
console.log(`READY ${issuer}`);

process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
