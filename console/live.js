// Calls ringing and up now (AMI and CloudAgent), refreshed on every call
// event; the extension to watch for the screen-pop is chosen here.
import { api, watchedExtension, setWatchedExtension } from './api.js';
import { el, field, message, directionArrow, localTime } from './ui.js';
import { onEvent } from './events.js';

export function liveView({ main }) {
  const ext = el('input', { name: 'extension', value: watchedExtension(), inputmode: 'numeric', autocomplete: 'off', size: 8 });
  const watching = el('p', { role: 'status' });
  const showWatching = () => {
    const w = watchedExtension();
    watching.textContent = w ? `Watching extension ${w}: a call ringing there pops up a notice.` : 'Not watching an extension.';
  };
  const form = el('form', { class: 'row card', 'aria-label': 'Watch an extension' },
    field('Extension to watch', ext), el('button', { type: 'submit', class: 'primary' }, 'Watch'),
    el('button', { type: 'button', onclick: () => { ext.value = ''; setWatchedExtension(''); showWatching(); } }, 'Stop watching'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    setWatchedExtension(ext.value.trim());
    showWatching();
  });
  showWatching();
  const status = el('div');
  const body = el('tbody');
  const table = el('table', {}, el('caption', { class: 'muted' }, 'Calls in progress'),
    el('thead', {}, el('tr', {}, ...['', 'Caller', 'Extension', 'State', 'Started', 'Source'].map((h) => el('th', { scope: 'col' }, h)))),
    body);
  main.append(el('h1', {}, 'Live calls'), form, watching, status, table);

  let pending = null;
  async function refresh() {
    try {
      const data = await api('/api/calls/active');
      body.replaceChildren(...data.calls.map((c) => el('tr', { 'data-call-id': c.id },
        el('td', {}, directionArrow(c.direction)),
        el('td', {}, c.customer ? el('a', { href: `#/customer/${c.customer.id}` }, c.customer.name) : null,
          c.customer ? ' ' : null, el('span', { class: c.customer ? 'muted' : '' }, c.external_number || '')),
        el('td', {}, c.extension || ''), el('td', {}, c.state || ''),
        el('td', {}, localTime(c.started_at)), el('td', {}, `${c.source} ${c.origin || ''}`))));
      table.hidden = !data.calls.length;
      status.replaceChildren(data.calls.length ? '' : message('No calls right now.'));
    } catch (e) {
      status.replaceChildren(message(e.message, 'error'));
    }
  }
  refresh();
  const stop = onEvent((kind) => {
    if (!kind.startsWith('call.') && kind !== 'ozonetel.call') return;
    // Several events come together (ringing on a ring group): one refresh.
    clearTimeout(pending);
    pending = setTimeout(refresh, 150);
  });
  return () => { stop(); clearTimeout(pending); };
}
