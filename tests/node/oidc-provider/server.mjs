// A real OpenID Connect provider (panva's oidc-provider) for authapi's tests.
//
// Usage: node server.mjs <config.json>
// config.json: {"port": 0, "issuer": "http://127.0.0.1:PORT", "jwks": {"keys": [<private RSA JWK>]},
//               "clients": [<client metadata>], "cookieKeys": ["..."]}
// Prints one line "READY <port>" on stdout once it listens.
//
// Beyond the provider itself (discovery, JWKS, authorization with its own login and
// consent pages, token endpoint, dynamic client registration), a few test-control
// routes under /__test__/ let a test:
//   POST /__test__/accounts        {"id": ..., "claims": {...}}  set a test account's claims
//   POST /__test__/id-token-patch  {"claims": {...}, "key": <private JWK>|null}
//        the NEXT token response's id_token gets these claims changed and is signed
//        again, with the provider's own key (default) or the given one. That is how a
//        test gets an ID token for another audience, from another issuer, expired or
//        with another nonce, which the provider itself never issues.
//   POST /__test__/reset           forget patches and accounts.
import { readFileSync } from 'node:fs';
import * as jose from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));

const accounts = new Map();
let idTokenPatch = null;

function claimsFor(id) {
  const stored = accounts.get(id);
  if (stored) return { sub: id, ...stored };
  // Any other login name is an account whose verified email is that name.
  return { sub: id, email: id, email_verified: true, name: id.split('@')[0] };
}

const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: config.jwks,
  cookies: { keys: config.cookieKeys },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], amr: ['amr'] },
  scopes: ['openid', 'email', 'profile', 'offline_access'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true }, // the provider's own login and consent pages
    registration: { enabled: true }, // clients registered per test (their callback URLs)
  },
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return claimsFor(id); } };
  },
  ttl: { AuthorizationCode: 60, IdToken: 3600, AccessToken: 3600, Interaction: 600, Session: 600, Grant: 600 },
  // The test runs on loopback over plain HTTP.
  clientBasedCORS: () => true,
});
provider.proxy = false;

async function readJson(ctx) {
  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
}

async function resign(idToken, patch) {
  const [encodedHeader] = idToken.split('.');
  const header = JSON.parse(Buffer.from(encodedHeader, 'base64url').toString('utf8'));
  const claims = jose.decodeJwt(idToken);
  Object.assign(claims, patch.claims || {});
  const jwk = patch.key || config.jwks.keys[0];
  const key = await jose.importJWK(jwk, 'RS256');
  return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: 'RS256', typ: header.typ || 'JWT', kid: jwk.kid })
    .sign(key);
}

provider.use(async (ctx, next) => {
  if (ctx.path.startsWith('/__test__/') && ctx.method === 'POST') {
    const body = await readJson(ctx);
    if (ctx.path === '/__test__/accounts') accounts.set(body.id, body.claims);
    else if (ctx.path === '/__test__/id-token-patch') idTokenPatch = body;
    else if (ctx.path === '/__test__/reset') { accounts.clear(); idTokenPatch = null; }
    else { ctx.status = 404; return; }
    ctx.body = { ok: true };
    return;
  }
  await next();
  if (ctx.path === '/token' && idTokenPatch && ctx.body && ctx.body.id_token) {
    const patch = idTokenPatch;
    idTokenPatch = null;
    ctx.body = { ...ctx.body, id_token: await resign(ctx.body.id_token, patch) };
  }
});

const server = provider.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`READY ${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
