// Sign-in as Cognito's managed login does it: OAuth 2.0 authorization code with PKCE (RFC 7636).
// The verifier waits in sessionStorage across the redirect; the tokens live in sessionStorage too
// (gone when the tab closes), never in a cookie.

const VERIFIER = "oauth.verifier";
const STATE = "oauth.state";
const TOKENS = "oauth.tokens";

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

function randomString(byteCount = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(byteCount)));
}

async function challengeOf(verifier) {
  return base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
}

// The page's registered callback URL: /storefront/ even when opened as /storefront/index.html.
function pageUrl() {
  return `${location.origin}${location.pathname.replace(/index\.html$/, "")}`;
}

function claimsOf(idToken) {
  const payload = idToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(payload), (c) => c.charCodeAt(0))));
}

/** The signed-in user ({token, claims, isAdmin}), or null; expired tokens count as signed out. */
export function currentUser() {
  const stored = sessionStorage.getItem(TOKENS);
  if (!stored) return null;
  const { idToken } = JSON.parse(stored);
  const claims = claimsOf(idToken);
  if (claims.exp * 1000 <= Date.now()) {
    sessionStorage.removeItem(TOKENS);
    return null;
  }
  const groups = claims["cognito:groups"] ?? [];
  return { token: idToken, claims, name: claims["cognito:username"] ?? claims.sub, isAdmin: groups.includes("admin") };
}

/** Go to the managed login page; it comes back to this page with a code. */
export async function signIn(auth) {
  const verifier = randomString(48);
  const state = randomString(16);
  sessionStorage.setItem(VERIFIER, verifier);
  sessionStorage.setItem(STATE, state);
  const query = new URLSearchParams({
    response_type: "code",
    client_id: auth.clientId,
    redirect_uri: pageUrl(),
    scope: auth.scope,
    state,
    code_challenge: await challengeOf(verifier),
    code_challenge_method: "S256",
  });
  location.assign(`${auth.authorizeUrl}?${query}`);
}

/** Back from the managed login: trade the code and the verifier for tokens, then clean the URL. */
export async function completeSignIn(auth) {
  const params = new URLSearchParams(location.search);
  const code = params.get("code");
  if (!code) return currentUser();
  const verifier = sessionStorage.getItem(VERIFIER);
  const expectedState = sessionStorage.getItem(STATE);
  sessionStorage.removeItem(VERIFIER);
  sessionStorage.removeItem(STATE);
  history.replaceState(null, "", pageUrl());
  if (!verifier || params.get("state") !== expectedState) {
    throw new Error("The sign-in answer does not belong to this page's request; sign in again.");
  }
  const response = await fetch(auth.tokenUrl, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: auth.clientId,
      code,
      redirect_uri: pageUrl(),
      code_verifier: verifier,
    }),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`Sign-in failed: ${body.error_description ?? body.error ?? response.status}`);
  sessionStorage.setItem(TOKENS, JSON.stringify({ idToken: body.id_token }));
  return currentUser();
}

export function signOut(auth) {
  sessionStorage.removeItem(TOKENS);
  const query = new URLSearchParams({ client_id: auth.clientId, logout_uri: pageUrl() });
  location.assign(`${auth.logoutUrl}?${query}`);
}
