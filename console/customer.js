// A customer: name, numbers, the Comms tab and Log Call.
import { api, ApiError } from './api.js';
import { el, field, message, localInputValue, uid } from './ui.js';
import { entryList } from './entries.js';
import { onEvent } from './events.js';

function newKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

function logCallForm(customer, onLogged) {
  const errors = {};
  const errorFor = (name) => (errors[name] = el('div', { class: 'field-error', id: uid('err'), role: 'alert' }));
  const inbound = el('input', { type: 'radio', name: 'direction', value: 'inbound', checked: true, id: uid('dir') });
  const outbound = el('input', { type: 'radio', name: 'direction', value: 'outbound', id: uid('dir') });
  const minutes = el('input', { type: 'number', name: 'minutes', min: 0, step: 1, value: 0, inputmode: 'numeric', size: 5 });
  const seconds = el('input', { type: 'number', name: 'seconds', min: 0, max: 59, step: 1, value: 0, inputmode: 'numeric', size: 3 });
  const notes = el('textarea', { name: 'notes', maxlength: 16000 });
  const occurred = el('input', { type: 'datetime-local', name: 'occurred_at', value: localInputValue(new Date()) });
  const utcHint = el('span', { class: 'muted' });
  const showUtc = () => {
    const d = occurred.value ? new Date(occurred.value) : null;
    utcHint.textContent = d && !Number.isNaN(d.getTime()) ? ` Sent as ${d.toISOString().replace('.000Z', 'Z')} (UTC)` : '';
  };
  occurred.addEventListener('input', showUtc);
  showUtc();
  const submit = el('button', { type: 'submit', class: 'primary' }, 'Log call');
  const status = el('div');
  const durationError = errorFor('duration_seconds');
  minutes.setAttribute('aria-describedby', durationError.id);
  seconds.setAttribute('aria-describedby', durationError.id);
  const form = el('form', { class: 'card log-call', 'aria-label': 'Log call' },
    el('h2', {}, 'Log Call'),
    el('fieldset', { class: 'row' }, el('legend', {}, 'Direction'),
      el('span', { class: 'choice' }, inbound, el('label', { for: inbound.id }, 'Inbound')),
      el('span', { class: 'choice' }, outbound, el('label', { for: outbound.id }, 'Outbound'))),
    errorFor('direction'),
    el('fieldset', { class: 'row duration' }, el('legend', {}, 'Duration'),
      field('Minutes', minutes), field('Seconds', seconds)),
    durationError,
    field('Notes', notes, errorFor('notes')),
    field('Occurred at (your local time)', occurred, el('div', {}, utcHint, errorFor('occurred_at'))),
    el('div', { class: 'row' }, submit), status);
  // One key per call being logged: a second click (or a retry after a lost
  // answer) sends the same key, and the server logs the call once.
  let key = newKey();
  let sending = false;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (sending) return;
    for (const node of Object.values(errors)) node.textContent = '';
    status.replaceChildren();
    const when = occurred.value ? new Date(occurred.value) : new Date();
    const body = {
      customer_id: customer.id,
      direction: outbound.checked ? 'outbound' : 'inbound',
      duration_seconds: Number(minutes.value || 0) * 60 + Number(seconds.value || 0),
      notes: notes.value,
      occurred_at: when.toISOString(),
    };
    sending = true;
    submit.disabled = true;
    try {
      const entry = await api('/api/crm/calls/log', { method: 'POST', body, headers: { 'Idempotency-Key': key } });
      key = newKey();
      minutes.value = 0; seconds.value = 0; notes.value = '';
      occurred.value = localInputValue(new Date()); showUtc();
      status.replaceChildren(message('Call logged.', 'ok'));
      onLogged(entry);
    } catch (err) {
      const target = err instanceof ApiError && errors[err.field];
      if (target) {
        target.textContent = err.message;
        (err.field === 'duration_seconds' ? minutes : form.elements[err.field])?.focus?.();
      } else status.replaceChildren(message(err.message, 'error'));
    } finally {
      sending = false;
      submit.disabled = false;
    }
  });
  return form;
}

export function customerView({ session, main }, id) {
  const header = el('div', {}, el('h1', {}, 'Customer'), message('Loading…'));
  const tab = el('button', { type: 'button', role: 'tab', 'aria-selected': 'true', id: 'tab-comms', 'aria-controls': 'panel-comms' }, 'Comms');
  const list = entryList(session, 'No comms with this customer yet.');
  const panel = el('section', { role: 'tabpanel', id: 'panel-comms', 'aria-labelledby': 'tab-comms' });
  main.append(header, el('div', { class: 'tabs', role: 'tablist' }, tab), panel);
  let stop = () => {};
  api(`/api/crm/customers/${id}`).then((customer) => {
    const numbers = [customer.phone, customer.phone_e164].filter((v, i, a) => v && a.indexOf(v) === i);
    header.replaceChildren(el('h1', {}, customer.name),
      el('p', {}, 'Numbers: ', numbers.join(' · ') || 'none'),
      el('p', {}, el('a', { href: '#/inbox' }, '← Inbox')));
    const logButton = session.canWrite ? el('button', { type: 'button', class: 'primary', 'aria-expanded': 'false' }, 'Log Call') : null;
    let form = null;
    logButton?.addEventListener('click', () => {
      if (!form) {
        form = logCallForm(customer, (entry) => list.prepend(entry));
        logButton.after(form);
      }
      const open = form.hidden || logButton.getAttribute('aria-expanded') === 'false';
      form.hidden = !open;
      logButton.setAttribute('aria-expanded', String(open));
      if (open) form.querySelector('input')?.focus();
    });
    panel.append(...[logButton, list.node].filter(Boolean));
    list.load({ customer_id: String(customer.id) });
    stop = onEvent((kind, data) => {
      if ((kind === 'call.logged' || kind === 'manual.logged') && data.entry) list.prepend(data.entry);
    });
  }).catch((e) => {
    header.replaceChildren(el('h1', {}, 'Customer'), message(e.status === 404 ? `No customer with id ${id}.` : e.message, 'error'));
  });
  return () => stop();
}
