// GET /api/events (Server-Sent Events) read with fetch, not EventSource:
// EventSource cannot send the Authorization header, and the token must not
// go into a URL. Reconnects with Last-Event-ID, so nothing is missed.
import { token } from './api.js';

const listeners = new Set();
const stateListeners = new Set();
let lastId = null;
let controller = null;
let state = 'idle';

export function onEvent(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function onStreamState(fn) {
  stateListeners.add(fn);
  fn(state);
  return () => stateListeners.delete(fn);
}

export function streamState() {
  return state;
}

function setState(s) {
  state = s;
  for (const fn of stateListeners) fn(s);
}

function dispatch(block) {
  let type = 'message';
  let id = null;
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (name === 'event') type = value;
    else if (name === 'id') id = value;
    else if (name === 'data') data.push(value);
  }
  if (id) lastId = id;
  if (type === 'stream.overflow') throw new Error('overflow');
  if (!data.length) return;
  let event;
  try { event = JSON.parse(data.join('\n')); } catch { return; }
  for (const fn of listeners) {
    try { fn(type, event.data || {}, event); } catch (e) { console.warn('event listener failed', e); }
  }
}

async function readOnce(signal) {
  const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${token()}` };
  if (lastId) headers['Last-Event-ID'] = lastId;
  const res = await fetch('/api/events', { headers, signal, cache: 'no-store' });
  if (res.status === 404) return 'unavailable';
  if (res.status === 401 || res.status === 403) return 'denied';
  if (!res.ok || !res.body) return 'retry';
  setState('live');
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return 'retry';
    buffer += value;
    let m;
    while ((m = /\r?\n\r?\n/.exec(buffer))) {
      const block = buffer.slice(0, m.index);
      buffer = buffer.slice(m.index + m[0].length);
      try { dispatch(block); } catch { reader.cancel(); return 'retry'; }
    }
  }
}

export function startEvents() {
  if (controller) return;
  controller = new AbortController();
  const { signal } = controller;
  (async () => {
    let backoff = 1000;
    setState('connecting');
    while (!signal.aborted) {
      let outcome;
      try { outcome = await readOnce(signal); } catch { outcome = 'retry'; }
      if (signal.aborted) return;
      if (outcome === 'unavailable' || outcome === 'denied') { setState(outcome); return; }
      if (state === 'live') backoff = 1000;
      setState('reconnecting');
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 30000);
    }
  })();
}

export function stopEvents() {
  if (controller) controller.abort();
  controller = null;
  lastId = null;
  setState('idle');
}
