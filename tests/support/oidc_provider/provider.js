// A Cognito-like OpenID Connect provider for Intake's browser and integration tests.
//
// Built on oidc-provider (panva), shaped like an Amazon Cognito user pool with a
// confidential app client and a machine (client-credentials) client:
//   - RS256 ID tokens carrying `cognito:username`, `cognito:groups`, `email`,
//     `email_verified` and `token_use: "id"`;
//   - RS256 JWT access tokens like Cognito's (`token_use: "access"`, `client_id`,
//     `scope`, `username`, `cognito:groups`, no `aud`), signed with a second key;
//   - userinfo with `sub`, `username`, `email`, `email_verified` (no groups);
//   - a login page that is a plain HTML form (labelled Username / Password, a
//     "Sign in" button), consent granted automatically (first-party clients);
//   - RP-initiated logout (end_session) and Cognito's `GET /logout?client_id=&logout_uri=`.
//
// Usage: node provider.js --config config.json [--port 0] [--ready-file ready.json]
//   The configuration may also come from the OIDC_PROVIDER_CONFIG environment
//   variable (JSON text, or the path of a JSON file). See README.md for its shape.
//   The server binds 127.0.0.1 only; with --port 0 (the default) it takes a free
//   port, and the issuer is http://127.0.0.1:<port>. When listening it writes
//   {"issuer", "port", "pid"} to the ready file (atomically) and logs one line.
//
// The signing keys are generated at every start and never written anywhere, and
// everything (sessions, codes, tokens) lives in memory: a restart forgets it all.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs, promisify } from 'node:util';

const started = process.hrtime.bigint();

// Generating the two RSA keys takes a while on a slow machine: it runs on libuv's
// thread pool while oidc-provider loads.
const generateKeyPair = promisify(crypto.generateKeyPair);
const keyPairs = Promise.all([1, 2].map(() => generateKeyPair('rsa', { modulusLength: 2048 })));
const { default: Provider, errors } = await import('oidc-provider');

function fail(message) {
  process.stderr.write(`oidc provider: ${message}\n`);
  process.exit(2);
}

// ---------------------------------------------------------------------------
// Configuration

const { values: args } = parseArgs({
  options: {
    config: { type: 'string' },
    port: { type: 'string', default: '0' },
    'ready-file': { type: 'string' },
  },
});

function readFile(path) {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch (error) {
    return fail(`cannot read the configuration: ${error.message}`);
  }
}

function readConfig() {
  let text = args.config ? readFile(args.config) : process.env.OIDC_PROVIDER_CONFIG;
  if (!text) fail('pass --config <file> or set OIDC_PROVIDER_CONFIG (JSON text or a file path)');
  if (!text.trimStart().startsWith('{')) text = readFile(text.trim());
  try {
    return JSON.parse(text);
  } catch (error) {
    return fail(`the configuration is not valid JSON: ${error.message}`);
  }
}

const strings = (value, what) => {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    fail(`${what} must be a list of strings`);
  }
  return value;
};

// A stable UUID for a username, so a user keeps its `sub` across restarts.
function subFor(username) {
  const hex = crypto.createHash('sha256').update(`intake-oidc-test:${username}`).digest('hex');
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const config = readConfig();
const port = Number.parseInt(args.port, 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port ${args.port} is not a port number`);

if (!config.client?.client_id || !config.client?.client_secret) {
  fail('config.client needs client_id and client_secret');
}
if (config.machine_client && (!config.machine_client.client_id || !config.machine_client.client_secret)) {
  fail('config.machine_client needs client_id and client_secret');
}
if (!Array.isArray(config.users) || config.users.length === 0) fail('config.users must list at least one user');

const users = config.users.map((user, index) => {
  if (typeof user?.username !== 'string' || !user.username) fail(`config.users[${index}] has no username`);
  const password = user.password ?? config.default_password;
  if (typeof password !== 'string' || !password) {
    fail(`user ${user.username} has no password and there is no default_password`);
  }
  return {
    username: user.username,
    password,
    sub: user.sub ?? subFor(user.username),
    email: user.email ?? `${user.username}@example.test`,
    email_verified: user.email_verified ?? true,
    groups: strings(user.groups, `the groups of ${user.username}`),
    attributes: user.attributes ?? {},
  };
});
const usersBySub = new Map(users.map((user) => [user.sub, user]));
// Cognito user pools are case-insensitive on usernames by default.
const usersByName = new Map(users.map((user) => [user.username.toLowerCase(), user]));
if (usersByName.size !== users.length) fail('two users share a username');
const attributeNames = [...new Set(users.flatMap((user) => Object.keys(user.attributes)))];

const appClient = config.client;
const appScopes = strings(appClient.scopes, 'client.scopes');
const machine = config.machine_client;
const machineScopes = machine ? strings(machine.scopes, 'machine_client.scopes') : [];

// The user-pool scopes Cognito knows, plus the resource-server scopes of the machine client.
const OIDC_SCOPES = ['openid', 'email', 'profile', 'phone', 'aws.cognito.signin.user.admin'];

const ttl = {
  AccessToken: 3600,
  AuthorizationCode: 300,
  ClientCredentials: 3600,
  Grant: 30 * 24 * 3600,
  IdToken: 3600,
  Interaction: 3600,
  RefreshToken: 30 * 24 * 3600,
  Session: 3600,
  ...(config.ttl ?? {}),
};

// ---------------------------------------------------------------------------
// Keys: one for ID tokens (oidc-provider signs with the first RS256 key of its
// keystore), one for access tokens, both published at the jwks_uri, like Cognito.

function rsaKey({ privateKey, publicKey }) {
  const kid = crypto.randomBytes(32).toString('base64');
  return { kid, privateKey, publicKey, jwk: { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' } };
}

const [idTokenKey, accessTokenKey] = (await keyPairs).map(rsaKey);

const b64url = (data) => Buffer.from(data).toString('base64url');

function signAccessToken(claims) {
  const header = b64url(JSON.stringify({ kid: accessTokenKey.kid, alg: 'RS256' }));
  const body = b64url(JSON.stringify(claims));
  const signature = crypto.sign('sha256', Buffer.from(`${header}.${body}`), accessTokenKey.privateKey);
  return `${header}.${body}.${b64url(signature)}`;
}

// The jti of one of our access tokens, or undefined for anything else.
function accessTokenJti(value) {
  if (typeof value !== 'string') return undefined;
  const parts = value.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url'));
    if (header.alg !== 'RS256' || header.kid !== accessTokenKey.kid) return undefined;
    const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
    if (!crypto.verify('sha256', signed, accessTokenKey.publicKey, Buffer.from(parts[2], 'base64url'))) {
      return undefined;
    }
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url'));
    return claims.token_use === 'access' && typeof claims.jti === 'string' ? claims.jti : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// HTML

const escapeHtml = (value) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 24rem; margin: 3rem auto; padding: 0 1rem; }
label, input, button { display: block; width: 100%; box-sizing: border-box; }
input { margin: 0.25rem 0 1rem; padding: 0.5rem; }
button { padding: 0.5rem; }
[role=alert] { color: #a00; }
</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

function loginPage({ uid, clientName, username = '', error }) {
  return page('Sign in', `<h1>Sign in</h1>
<p>Sign in to ${escapeHtml(clientName)} with your username and password.</p>
${error ? `<p role="alert" id="error">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login" id="login-form">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required value="${escapeHtml(username)}"${username ? '' : ' autofocus'}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${username ? ' autofocus' : ''}>
<button type="submit">Sign in</button>
</form>
<p><a href="/interaction/${escapeHtml(uid)}/abort">Cancel</a></p>`);
}

function errorPage(ctx, status, error, description) {
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = page('Error', `<h1>Error</h1>
<p id="error" role="alert"><strong>${escapeHtml(error)}</strong>: ${escapeHtml(description ?? '')}</p>`);
}

async function readForm(req, limit = 16 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new errors.InvalidRequest('request body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// ---------------------------------------------------------------------------
// The provider

function buildProvider(issuer) {
  const clients = [
    {
      client_id: appClient.client_id,
      client_secret: appClient.client_secret,
      client_name: appClient.client_name ?? 'Intake',
      redirect_uris: strings(appClient.redirect_uris, 'client.redirect_uris'),
      post_logout_redirect_uris: strings(appClient.logout_uris, 'client.logout_uris'),
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic', // client_secret_post is accepted too
      scope: (appScopes.length ? appScopes : ['openid', 'email', 'profile']).join(' '),
      require_auth_time: true,
    },
  ];
  if (machine) {
    clients.push({
      client_id: machine.client_id,
      client_secret: machine.client_secret,
      client_name: machine.client_name ?? 'Intake machine client',
      redirect_uris: [],
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: machineScopes.join(' ') || undefined,
    });
  }

  const provider = new Provider(issuer, {
    clients,
    jwks: { keys: [idTokenKey.jwk, accessTokenKey.jwk] },
    cookies: {
      names: { session: 'op_session', interaction: 'op_interaction', resume: 'op_interaction_resume' },
      keys: [crypto.randomBytes(32).toString('base64url')],
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    scopes: [...OIDC_SCOPES, ...machineScopes],
    claims: {
      // Like Cognito, the openid scope alone puts every user attribute in the ID token.
      // Which claims go to the ID token and which to userinfo is decided by findAccount.
      openid: ['sub', 'cognito:username', 'cognito:groups', 'username', 'token_use', 'email', 'email_verified', ...attributeNames],
      email: ['email', 'email_verified'],
      phone: ['phone_number', 'phone_number_verified'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username', 'updated_at'],
      'aws.cognito.signin.user.admin': [],
      acr: null,
      sid: null,
      auth_time: null,
      iss: null,
    },
    conformIdTokenClaims: false,
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    responseTypes: ['code'],
    subjectTypes: ['public'],
    allowOmittingSingleRegisteredRedirectUri: false,
    pkce: { required: () => false }, // allowed (S256 only), not required, like Cognito
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false, // tokens outlive the hosted-UI session
    rotateRefreshToken: false,
    enabledJWA: { idTokenSigningAlgValues: ['RS256'] },
    routes: {
      authorization: '/oauth2/authorize',
      token: '/oauth2/token',
      userinfo: '/oauth2/userInfo',
      revocation: '/oauth2/revoke',
      jwks: '/.well-known/jwks.json',
      end_session: '/oauth2/end_session',
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true, allowedPolicy: async (ctx, client, token) => token.clientId === client.clientId },
      userinfo: { enabled: true },
      introspection: { enabled: false },
      dPoP: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      resourceIndicators: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        // Cognito signs out without asking: the form posts itself; the button is there for clients without JS.
        logoutSource: async (ctx, form) => {
          ctx.type = 'html';
          ctx.body = page('Sign out', `<h1>Sign out</h1>
${form.replace('</form>', '<input type="hidden" name="logout" value="yes"/><button type="submit">Sign out</button></form>')}
<script>document.forms[0].submit();</script>`);
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.type = 'html';
          ctx.body = page('Signed out', '<h1>Signed out</h1><p>You have been signed out.</p>');
        },
      },
    },
    ttl,
    async findAccount(ctx, sub) {
      const user = usersBySub.get(sub);
      if (!user) return undefined;
      return {
        accountId: sub,
        async claims(use) {
          const common = { sub, email: user.email, email_verified: user.email_verified, ...user.attributes };
          if (use === 'id_token') {
            return {
              ...common,
              'cognito:username': user.username,
              // Cognito leaves the claim out for a user in no group.
              ...(user.groups.length ? { 'cognito:groups': user.groups } : {}),
              token_use: 'id',
            };
          }
          return { ...common, username: user.username }; // userinfo: no groups, like Cognito
        },
      };
    },
    async renderError(ctx, out) {
      errorPage(ctx, ctx.status >= 400 ? ctx.status : 400, out.error, out.error_description);
    },
  });

  issueCognitoAccessTokens(provider);
  provider.use(logRequests);
  provider.use(interactions(provider));
  provider.use(cognitoLogout(provider));

  for (const event of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error', 'end_session.error', 'revocation.error']) {
    provider.on(event, (ctx, error) => {
      console.error(`${event}: ${error?.error ?? ''} ${error?.error_description ?? error?.message ?? error}`);
      if (event === 'server_error') console.error(error);
    });
  }
  return provider;
}

// Access tokens as Cognito issues them: RS256 JWTs without `aud`. oidc-provider only
// makes JWT access tokens for a resource server, and then requires an `aud` and
// refuses them at userinfo. So the tokens stay oidc-provider's opaque, stored tokens
// (userinfo and revocation keep working), and the string handed out is a JWT whose
// `jti` is the stored token's id: issuing signs it, looking up verifies it.
function issueCognitoAccessTokens(provider) {
  for (const Model of [provider.AccessToken, provider.ClientCredentials]) {
    const getValueAndPayload = Model.prototype.getValueAndPayload;
    Model.prototype.getValueAndPayload = async function cognitoValueAndPayload() {
      if (this.kind === 'ClientCredentials') applyMachineScopes(this);
      const { payload } = await getValueAndPayload.call(this);
      return { value: signAccessToken(accessTokenClaims(provider, this, payload)), payload };
    };
    const find = Model.find;
    Model.find = async function findCognitoAccessToken(value, options) {
      const jti = accessTokenJti(value);
      return jti === undefined ? undefined : find.call(this, jti, options);
    };
  }
}

// Cognito grants every scope the machine client may have when none is asked for,
// and refuses one it may not have (oidc-provider would silently drop unknown ones).
function applyMachineScopes(token) {
  const allowed = (token.client?.scope ?? '').split(' ').filter(Boolean);
  // The raw request: oidc-provider has dropped the scopes it does not know from params by now.
  const requested = Provider.ctx?.oidc?.body?.scope;
  const scopes = typeof requested === 'string' && requested ? requested.split(' ').filter(Boolean) : allowed;
  for (const scope of scopes) {
    if (!allowed.includes(scope)) throw new errors.InvalidScope('requested scope is not allowed', scope);
  }
  token.scope = scopes.join(' ') || undefined;
}

function accessTokenClaims(provider, token, payload) {
  const user = token.accountId ? usersBySub.get(token.accountId) : undefined;
  const entities = Provider.ctx?.oidc?.entities ?? {};
  const authTime = (entities.AuthorizationCode ?? entities.RefreshToken)?.authTime;
  return {
    sub: token.accountId ?? token.clientId,
    ...(user?.groups.length ? { 'cognito:groups': user.groups } : {}),
    iss: provider.issuer,
    version: 2,
    client_id: token.clientId,
    token_use: 'access',
    ...(token.scope ? { scope: token.scope } : {}),
    auth_time: authTime ?? payload.iat,
    exp: payload.exp,
    iat: payload.iat,
    jti: token.jti,
    ...(user ? { username: user.username } : {}),
  };
}

async function logRequests(ctx, next) {
  try {
    await next();
  } finally {
    console.log(`${ctx.method} ${ctx.path} -> ${ctx.status}`);
  }
}

// The login page and the automatic consent.
function interactions(provider) {
  const route = /^\/interaction\/([\w-]+)(\/login|\/abort)?$/;
  return async function interactionRoutes(ctx, next) {
    const match = route.exec(ctx.path);
    if (!match) return next();
    const [, uid, action] = match;
    ctx.set('cache-control', 'no-store');
    try {
      const interaction = await provider.interactionDetails(ctx.req, ctx.res);
      if (interaction.uid !== uid) throw new errors.SessionNotFound('interaction mismatch');
      const { prompt, params, session } = interaction;
      const client = await provider.Client.find(String(params.client_id));
      const clientName = client?.clientName ?? params.client_id;
      let result;

      if (ctx.method === 'GET' && action === '/abort') {
        result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
      } else if (ctx.method === 'GET' && !action && prompt.name === 'login') {
        ctx.type = 'html';
        ctx.body = loginPage({ uid, clientName, username: params.login_hint ?? '' });
        return undefined;
      } else if (ctx.method === 'GET' && !action && prompt.name === 'consent') {
        // First-party clients: consent is granted without asking.
        const { details } = prompt;
        const grant = interaction.grantId
          ? await provider.Grant.find(interaction.grantId)
          : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
        if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
        if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
        for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
          grant.addResourceScope(indicator, scopes.join(' '));
        }
        result = { consent: { grantId: await grant.save() } };
      } else if (ctx.method === 'POST' && action === '/login' && prompt.name === 'login') {
        const form = await readForm(ctx.req);
        const username = form.get('username') ?? '';
        const user = usersByName.get(username.toLowerCase());
        if (!user || form.get('password') !== user.password) {
          ctx.type = 'html';
          ctx.body = loginPage({ uid, clientName, username, error: 'Incorrect username or password.' });
          return undefined;
        }
        result = { login: { accountId: user.sub, amr: ['pwd'] } };
      } else {
        errorPage(ctx, 400, 'invalid_request', `${ctx.method} ${ctx.path} does not fit the ${prompt.name} prompt`);
        return undefined;
      }

      const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
        mergeWithLastSubmission: !('error' in result),
      });
      ctx.status = 303;
      ctx.redirect(returnTo);
      return undefined;
    } catch (error) {
      if (error instanceof errors.OIDCProviderError) {
        errorPage(ctx, error.statusCode ?? 400, error.error, error.error_description);
        return undefined;
      }
      throw error;
    }
  };
}

// Cognito's logout endpoint: GET /logout?client_id=...&logout_uri=... ends the
// hosted-UI session and redirects to logout_uri if it is one of the client's
// sign-out URLs; with redirect_uri & response_type instead, it signs out and
// starts a new sign-in. Anything else is refused with an error page.
function cognitoLogout(provider) {
  return async function logoutRoute(ctx, next) {
    if (ctx.path !== '/logout') return next();
    if (ctx.method !== 'GET') {
      errorPage(ctx, 405, 'invalid_request', 'use GET');
      return undefined;
    }
    ctx.set('cache-control', 'no-store');
    const single = (name) => (typeof ctx.query[name] === 'string' ? ctx.query[name] : undefined);
    const clientId = single('client_id');
    const client = clientId ? await provider.Client.find(clientId) : undefined;
    if (!client) {
      errorPage(ctx, 400, 'invalid_request', 'client_id is missing or unknown');
      return undefined;
    }
    let target;
    const logoutUri = single('logout_uri');
    const redirectUri = single('redirect_uri');
    if (logoutUri !== undefined) {
      if (!client.postLogoutRedirectUriAllowed(logoutUri)) {
        errorPage(ctx, 400, 'redirect_mismatch', 'logout_uri is not a sign-out URL of this client');
        return undefined;
      }
      target = logoutUri;
    } else if (redirectUri !== undefined && single('response_type')) {
      if (!client.redirectUriAllowed(redirectUri)) {
        errorPage(ctx, 400, 'redirect_mismatch', 'redirect_uri is not a callback URL of this client');
        return undefined;
      }
      const authorize = new URL(provider.urlFor('authorization'));
      for (const [name, value] of Object.entries(ctx.query)) {
        if (typeof value === 'string') authorize.searchParams.set(name, value);
      }
      target = authorize.href;
    } else {
      errorPage(ctx, 400, 'invalid_request', 'logout_uri (or redirect_uri and response_type) is required');
      return undefined;
    }

    const session = await provider.Session.get(ctx);
    if (session.accountId || !session.new) await session.destroy();
    ctx.cookies.set(provider.cookieName('session'), null, { httpOnly: true, sameSite: 'lax' });
    ctx.status = 302;
    ctx.redirect(target);
    return undefined;
  };
}

// ---------------------------------------------------------------------------
// The server

let handler;
const server = createServer((req, res) => {
  if (handler) {
    handler(req, res);
  } else {
    res.statusCode = 503;
    res.end('starting\n');
  }
});

server.on('error', (error) => fail(`cannot listen on 127.0.0.1:${port}: ${error.message}`));

server.listen(port, '127.0.0.1', () => {
  const actualPort = server.address().port;
  const issuer = `http://127.0.0.1:${actualPort}`;
  const provider = buildProvider(issuer);
  handler = provider.callback();
  if (args['ready-file']) {
    const temporary = `${args['ready-file']}.tmp`;
    fs.writeFileSync(temporary, JSON.stringify({ issuer, port: actualPort, pid: process.pid }));
    fs.renameSync(temporary, args['ready-file']);
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  console.log(`oidc provider ${issuer} ready in ${ms.toFixed(0)} ms (${users.length} users)`);
});

function shutdown() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
