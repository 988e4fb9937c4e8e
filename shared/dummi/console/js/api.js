// The console's only way to the service: JSON routes under the page's base path, with the operator's key
// (kept in this tab's sessionStorage, never in a URL, a cookie or localStorage) sent as X-API-Key.

const KEY = "dummi.apiKey";
export const base = document.documentElement.dataset.base || "";

export class ApiError extends Error {
  constructor(status, body) {
    // the service's errors are {detail, code, field}; a request that fails validation, {detail: [{loc, msg}]}
    const detail = body && body.detail;
    const invalid = Array.isArray(detail) ? detail : [];
    const said = typeof detail === "string" ? detail : invalid.map((d) => d.msg).join("; ");
    super(said || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code;
    this.field = (body && body.field) || invalid.map((d) => (d.loc || []).slice(1).join(".")).join(", ") || null;
  }
}

export function apiKey() {
  return sessionStorage.getItem(KEY);
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

let onUnauthorized = () => {};
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

// GET path?query, or with {method, body}; the parsed JSON, or an ApiError naming what the service said.
export async function api(path, { method = "GET", body, query } = {}) {
  const url = new URL(base + path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  const headers = { Accept: "application/json" };
  const key = apiKey();
  if (key) headers["X-API-Key"] = key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { detail: text.slice(0, 200) };
  }
  if (!response.ok) {
    const error = new ApiError(response.status, parsed);
    if (response.status === 401) onUnauthorized(error);
    throw error;
  }
  return parsed;
}

// What a refused or failed call means to an operator, in one sentence.
export function explain(error) {
  if (!(error instanceof ApiError)) return `Could not reach the service: ${error.message}`;
  if (error.status === 403) return `Refused: ${error.message}. This action needs an admin key.`;
  if (error.status === 401) return `Refused: ${error.message}. Enter a valid API key.`;
  const field = error.field ? ` (field: ${error.field})` : "";
  return `${error.message}${field}`;
}
