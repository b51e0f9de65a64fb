// The API token lives in sessionStorage (this tab only, gone when it
// closes) and travels only in the Authorization header, never in a URL.
const TOKEN_KEY = 'switchboard.token';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

const WATCH_KEY = 'switchboard.watch';

/// The extension whose ringing calls pop up a notice ('' = none).
export function watchedExtension() {
  return sessionStorage.getItem(WATCH_KEY) || '';
}

export function setWatchedExtension(extension) {
  if (extension) sessionStorage.setItem(WATCH_KEY, extension);
  else sessionStorage.removeItem(WATCH_KEY);
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
    // 422 invalid_field messages start with the field's name.
    const m = code === 'invalid_field' && /^([a-z_]+)\b/.exec(message);
    this.field = m ? m[1] : '';
  }
}

export async function api(path, { method = 'GET', body, headers = {}, signal } = {}) {
  const h = { Accept: 'application/json', ...headers };
  const t = token();
  if (t) h.Authorization = `Bearer ${t}`;
  const init = { method, headers: h, signal, cache: 'no-store' };
  if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'switchboard did not answer; check the connection and retry');
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    throw new ApiError(res.status, data?.error || `http_${res.status}`,
      data?.message || `switchboard answered HTTP ${res.status}`);
  }
  return data;
}

/// `path?name=value&...` without the empty values.
export function withQuery(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v != null) q.set(k, v);
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
