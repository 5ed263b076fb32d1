// Calls to one API with its usage plan's key and the user's token. Errors carry the problem+json body's
// words (RFC 9457); a 429 or a 503 is retried with exponential backoff and full jitter before it is shown.

export class ApiError extends Error {
  constructor(status, problem) {
    const words = problem?.detail ?? problem?.title ?? problem?.message ?? `HTTP ${status}`;
    super(status === 429 ? `Too many requests right now: ${words}. Please try again in a moment.` : words);
    this.status = status;
    this.problem = problem ?? {};
  }
}

const RETRIED = new Set([429, 503]);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function apiClient(api, tokenOf, { attempts = 5, baseDelayMs = 200 } = {}) {
  async function once(method, path, body, headers) {
    const token = tokenOf();
    const response = await fetch(`${api.url}${path}`, {
      method,
      headers: {
        "x-api-key": api.apiKey,
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = { detail: text };
    }
    return { response, body: parsed };
  }

  /** The parsed body of a 2xx answer, with its headers; an ApiError otherwise. */
  async function request(method, path, { body, headers, query } = {}) {
    const search = query ? `?${new URLSearchParams(Object.entries(query).filter(([, v]) => v != null))}` : "";
    for (let attempt = 1; ; attempt += 1) {
      const { response, body: answer } = await once(method, path + search, body, headers);
      if (response.ok) return { body: answer, headers: response.headers, status: response.status };
      if (!RETRIED.has(response.status) || attempt >= attempts) throw new ApiError(response.status, answer);
      const retryAfter = Number(response.headers.get("Retry-After")) * 1000;
      await sleep(retryAfter || Math.random() * baseDelayMs * 2 ** attempt);
    }
  }

  return {
    request,
    get: (path, query) => request("GET", path, { query }).then((r) => r.body),
    post: (path, body, headers) => request("POST", path, { body, headers }).then((r) => r.body),
    put: (path, body) => request("PUT", path, { body }).then((r) => r.body),
  };
}
