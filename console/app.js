// The console's shell: sign-in, the sections a token may see, hash routing
// (#/inbox, #/customer/7, ...) and the screen-pop for a watched extension.
import { api, token, setToken, clearToken, ApiError, watchedExtension } from './api.js';
import { el, field, message } from './ui.js';
import { startEvents, stopEvents, onEvent, onStreamState } from './events.js';

// Each view is loaded when first shown: the inbox needs none of the others.
const VIEWS = {
  inbox: async () => (await import('./inbox.js')).inboxView,
  customer: async () => (await import('./customer.js')).customerView,
  live: async () => (await import('./live.js')).liveView,
  desk: async () => (await import('./desk.js')).deskView,
  status: async () => (await import('./status.js')).statusView,
};
let routing = 0;

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const signOut = document.getElementById('sign-out');
const liveState = document.getElementById('live-state');
const pops = document.getElementById('pops');

const session = { role: '', agentId: '', canWrite: false };
let cleanup = null;

const SECTIONS = [
  { path: 'inbox', label: 'Inbox', roles: ['read', 'write', 'agent'] },
  { path: 'live', label: 'Live calls', roles: ['read', 'write', 'agent'] },
  { path: 'desk', label: 'Call desk', roles: ['agent'] },
  { path: 'status', label: 'Status', roles: ['read', 'write'] },
];

function allowed(section) {
  return SECTIONS.some((s) => s.path === section && s.roles.includes(session.role));
}

function renderNav(current) {
  nav.replaceChildren(...SECTIONS.filter((s) => s.roles.includes(session.role)).map((s) =>
    el('a', { href: `#/${s.path}`, 'aria-current': s.path === current ? 'page' : null }, s.label)));
  nav.hidden = false;
  signOut.hidden = false;
}

function showSignIn(problem = '') {
  nav.hidden = true;
  signOut.hidden = true;
  liveState.hidden = true;
  const input = el('input', { type: 'password', name: 'token', autocomplete: 'current-password', required: true,
    'aria-describedby': 'signin-help' });
  const status = el('div', { id: 'signin-status' }, problem ? message(problem, 'error') : null);
  const form = el('form', { class: 'card signin', 'aria-labelledby': 'signin-title' },
    el('h1', { id: 'signin-title' }, 'Sign in'),
    field('API token', input),
    el('p', { id: 'signin-help', class: 'muted' },
      'A read, write or agent token from the switchboard configuration. It is kept for this tab only.'),
    el('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const value = input.value.trim();
    if (!value) return;
    setToken(value);
    const problem = await identify();
    if (problem) {
      clearToken();
      status.replaceChildren(message(problem, 'error'));
      input.select();
      return;
    }
    if (!location.hash || location.hash === '#/') location.hash = defaultSection();
    else route();
  });
  main.replaceChildren(form);
  input.focus();
}

/// Asks who the token is; an empty string when it is valid.
async function identify() {
  try {
    const who = await api('/api/whoami');
    session.role = who.role;
    session.agentId = who.agent_id || '';
    session.canWrite = who.role === 'write';
    startEvents();
    return '';
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return 'That token is not valid for this switchboard. Check it and try again.';
    if (e instanceof ApiError && e.status === 503) return e.message;
    return `Could not sign in: ${e.message}`;
  }
}

function defaultSection() {
  return session.role === 'agent' ? '#/desk' : '#/inbox';
}

async function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  if (!token()) { showSignIn(); return; }
  if (!session.role) {
    const problem = await identify();
    if (problem) { clearToken(); showSignIn(problem); return; }
  }
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  let section = parts[0] || '';
  if (section === 'customer' && parts[1]) section = 'customer';
  else if (!allowed(section)) { location.replace(defaultSection()); return; }
  renderNav(section === 'customer' ? 'inbox' : section);
  const mine = ++routing;
  const view = await VIEWS[section]();
  // Another navigation happened while the view was loading: it wins.
  if (mine !== routing) return;
  const ctx = { session, main, navigate: (h) => { location.hash = h; } };
  main.replaceChildren();
  cleanup = view(ctx, Number(parts[1]));
  main.focus({ preventScroll: true });
}

const STATE_TEXT = {
  live: 'Live updates on', connecting: 'Connecting to live updates…', reconnecting: 'Live updates reconnecting…',
  unavailable: 'Live updates are not available on this server', denied: 'This token may not follow live updates',
};

onStreamState((s) => {
  liveState.hidden = s === 'idle';
  liveState.textContent = STATE_TEXT[s] || '';
  liveState.dataset.state = s;
});

// The screen-pop: a call ringing on the watched extension, on every page.
onEvent((type, data) => {
  if (type !== 'call.ringing') return;
  const ext = watchedExtension();
  if (!ext || !(data.extensions || []).map(String).includes(ext)) return;
  const number = data.external_number || 'an unknown number';
  const who = data.customer
    ? el('a', { href: `#/customer/${data.customer.id}` }, data.customer.name)
    : el('span', {}, number);
  const close = el('button', { type: 'button', class: 'link' }, 'Dismiss');
  const pop = el('div', { class: 'pop', role: 'alert', 'data-call-id': data.call_id || '' },
    el('div', { class: 'title' }, 'Incoming call on ', ext),
    el('div', {}, who, data.customer ? ` (${number})` : ''), close);
  close.addEventListener('click', () => pop.remove());
  pops.prepend(pop);
});

signOut.addEventListener('click', () => {
  clearToken();
  stopEvents();
  session.role = '';
  pops.replaceChildren();
  location.hash = '';
  showSignIn();
});

window.addEventListener('hashchange', route);
route();
