// A real OpenID Connect provider (the certified `oidc-provider` package) for sign-in tests.
//
// Why a real provider: the dashboards' sign-in must be proven against what an identity
// provider really does (discovery, JWKS, PKCE, nonce, token lifetimes, RP-initiated logout),
// not against a stub that agrees with the code under test.
//
// Usage: node provider.mjs CONFIG.json
// The JSON file (written by tests/support/oidc_provider.py) holds:
//   host, port          where to listen (port 0 = any free port; the issuer carries the real one)
//   ready_file          written atomically with {"issuer", "port", "pid"} once listening
//   clients             oidc-provider client metadata, passed through as given
//   accounts            [{"login", "password", "claims": {"sub", ...}}]
//   claims              scope -> claim names (custom scopes included)
//   ttl                 seconds per artifact: IdToken, AccessToken, Session, Grant, RefreshToken, ...
//   id_token_claims     true: scope claims go into the ID token too, not only to userinfo
//   pkce_required       true: every client must send an S256 code challenge
// Sign-in is this file's own form (login + password per account); consent is implied for the
// configured clients (first-party), as an organisation's identity provider does for its own apps.
import { generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = config.accounts ?? [];

function escapeHtml(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  // Local markup only: the provider's default pages import a web font, unreachable offline.
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;max-width:22rem;margin:3rem auto}input,button{display:block;width:100%;margin:.4rem 0;padding:.5rem}
.error{color:#b00020}</style></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

function sameSecret(given, expected) {
  const a = Buffer.from(String(given ?? ''));
  const b = Buffer.from(String(expected));
  return a.length === b.length && timingSafeEqual(a, b);
}

function signingKey() {
  // A fresh key (and kid) per start: a relying party that caches keys must refetch by kid.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };
}

function loginForm({ uid, params, error, login }) {
  const message = error ? `<p class="error" id="error">${escapeHtml(error)}</p>` : '';
  const hint = login ?? params.login_hint ?? '';
  return page(
    'Sign in',
    `<p>to <strong id="client">${escapeHtml(params.client_id)}</strong></p>${message}
<form method="post" action="/interaction/${escapeHtml(uid)}/login" autocomplete="off">
<label>Login <input id="login" name="login" required value="${escapeHtml(hint)}"></label>
<label>Password <input id="password" name="password" type="password" required></label>
<button id="submit" type="submit">Sign in</button></form>
<form method="post" action="/interaction/${escapeHtml(uid)}/abort"><button id="abort" type="submit">Cancel</button></form>`,
  );
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function finish(ctx, provider, result, options) {
  // interactionResult, not interactionFinished: Koa owns the response and sends the redirect.
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, options);
  ctx.status = 303;
  ctx.redirect(returnTo);
}

async function consent(ctx, provider, { grantId, session, params, prompt: { details } }) {
  // Consent is implied, but oidc-provider still asks it for native (any loopback port)
  // clients on every request, and whenever scopes beyond the stored grant are requested.
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  const result = { consent: { grantId: await grant.save() } };
  return finish(ctx, provider, result, { mergeWithLastSubmission: true });
}

async function interactions(ctx, next, provider) {
  const match = /^\/interaction\/([\w-]+)(?:\/(login|abort))?$/.exec(ctx.path);
  if (!match) return next();
  const [, , action] = match;
  ctx.set('cache-control', 'no-store');
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { uid, prompt, params } = details;
  if (ctx.method === 'GET' && !action) {
    if (prompt.name === 'consent') return consent(ctx, provider, details);
    if (prompt.name !== 'login') ctx.throw(501, `prompt ${prompt.name} is not handled here`);
    ctx.type = 'html';
    ctx.body = loginForm({ uid, params });
    return undefined;
  }
  if (ctx.method !== 'POST') ctx.throw(405);
  if (action === 'abort') {
    const denied = { error: 'access_denied', error_description: 'End-User aborted interaction' };
    return finish(ctx, provider, denied, { mergeWithLastSubmission: false });
  }
  const form = await readForm(ctx.req);
  const login = form.get('login') ?? '';
  const account = accounts.find((a) => a.login === login);
  if (!account || !sameSecret(form.get('password'), account.password)) {
    // 200, as identity providers answer a failed sign-in: the browser shows the form again.
    ctx.type = 'html';
    ctx.body = loginForm({ uid, params, login, error: 'Invalid login or password.' });
    return undefined;
  }
  const result = { login: { accountId: account.claims.sub, amr: ['pwd'] } };
  return finish(ctx, provider, result, { mergeWithLastSubmission: false });
}

async function impliedGrant(ctx) {
  // First-party clients: consent is implied, so the grant covers what the client asked for.
  const { provider, session, client } = ctx.oidc;
  const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
  if (grantId) {
    const existing = await provider.Grant.find(grantId);
    if (existing) return existing;
  }
  const grant = new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
  grant.addOIDCScope([...ctx.oidc.requestParamScopes].join(' '));
  grant.addOIDCClaims([...ctx.oidc.requestParamClaims]);
  await grant.save();
  return grant;
}

const claims = config.claims ?? {
  openid: ['sub'],
  profile: ['name'],
  email: ['email', 'email_verified'],
};

const configuration = {
  clients: config.clients ?? [],
  claims,
  scopes: ['openid', 'offline_access', ...Object.keys(claims)],
  jwks: { keys: [signingKey()] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  conformIdTokenClaims: config.id_token_claims === false,
  pkce: { required: () => config.pkce_required !== false },
  ttl: { Interaction: 600, ...config.ttl },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  loadExistingGrant: impliedGrant,
  async findAccount(ctx, sub) {
    const account = accounts.find((a) => a.claims.sub === sub);
    if (!account) return undefined;
    return { accountId: sub, claims: async () => ({ ...account.claims }) };
  },
  features: {
    devInteractions: { enabled: false },
    revocation: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.body = page(
          'Sign out',
          `<p>Sign out of ${escapeHtml(ctx.host)}?</p>${form}
<button id="logout-yes" type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button id="logout-no" type="submit" form="op.logoutForm">No, stay signed in</button>`,
        );
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out', '<p id="signed-out">You are signed out.</p>');
      },
    },
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page(
      'Sign-in error',
      `<p id="error">${escapeHtml(out.error)}</p><p id="error_description">${escapeHtml(out.error_description)}</p>`,
    );
  },
};

const server = createServer();
async function checkClients(provider) {
  // oidc-provider validates static clients on first use; a bad one should stop the start.
  for (const { client_id: clientId } of configuration.clients) {
    try {
      await provider.Client.find(clientId);
    } catch (err) {
      console.error(`client ${clientId}: ${err.error_description ?? err.message}`);
      process.exit(1);
    }
  }
}

server.listen(config.port ?? 0, config.host ?? '127.0.0.1', async () => {
  const { address, port } = server.address();
  const issuer = `http://${address}:${port}`;
  const provider = new Provider(issuer, configuration);
  await checkClients(provider);
  provider.use((ctx, next) => interactions(ctx, next, provider));
  for (const event of ['server_error', 'authorization.error', 'grant.error', 'end_session.error']) {
    provider.on(event, (ctx, err) => console.error(`${event}: ${err.message} ${err.error_description ?? ''}`));
  }
  server.on('request', provider.callback());
  const ready = `${config.ready_file}.tmp`;
  writeFileSync(ready, JSON.stringify({ issuer, port, pid: process.pid }));
  renameSync(ready, config.ready_file);
  console.log(`oidc-provider listening: ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
