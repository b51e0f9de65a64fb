// One comms entry as a list row, and a paged list of them fed by the API's
// cursor and by live events.
import { api, withQuery, ApiError } from './api.js';
import { el, phoneIcon, mss, directionArrow, localTime, dispositionBadge, field, message } from './ui.js';

// Servers that do not yet send customer_name: the name is asked once per
// customer and filled in when it arrives.
const names = new Map();

function fillName(link, id) {
  if (!names.has(id)) names.set(id, api(`/api/crm/customers/${id}`).then((c) => c.name).catch(() => ''));
  names.get(id).then((name) => { if (name) link.textContent = name; });
}

export function entryRow(entry, session, { fresh = false } = {}) {
  const isCall = entry.type === 'call';
  const who = entry.customer_id
    ? el('a', { href: `#/customer/${entry.customer_id}` }, entry.customer_name || `Customer ${entry.customer_id}`)
    : el('span', {}, entry.external_number || 'Unknown number');
  if (entry.customer_id && !entry.customer_name) fillName(who, entry.customer_id);
  const whoCell = el('div', { class: 'who' }, who);
  if (!entry.customer_id && entry.external_number && session.canWrite) {
    whoCell.append(' ', el('button', { type: 'button', class: 'link add-customer',
      onclick: () => addCustomerForm(whoCell, entry) }, 'Add customer'));
  }
  const notes = (entry.body || '').split('\n').slice(1).join(' ');
  const recording = entry.recording_url
    ? el('a', { href: entry.recording_url, target: '_blank', rel: 'noopener' }, 'Recording')
    : null;
  return el('li', { class: `entry${isCall ? ' call' : ''}${fresh ? ' fresh' : ''}`, 'data-id': entry.id },
    isCall ? phoneIcon() : el('span', { 'aria-hidden': 'true' }, '✉'),
    directionArrow(entry.direction),
    whoCell,
    el('span', { class: 'ext' }, entry.extension ? `ext ${entry.extension}` : ''),
    el('span', { class: 'dur', title: 'Duration' }, mss(entry.duration_seconds)),
    el('span', { class: 'src' }, dispositionBadge(entry.disposition), ' ', el('span', { class: 'muted' }, entry.source)),
    el('span', { class: 'when' }, el('time', { datetime: entry.occurred_at }, localTime(entry.occurred_at)),
      notes ? el('span', { class: 'extra' }, ` — ${notes}`) : null, recording ? ' ' : null, recording));
}

function addCustomerForm(cell, entry) {
  if (cell.querySelector('form')) return;
  const name = el('input', { name: 'name', required: true, autocomplete: 'off' });
  const phone = el('input', { name: 'phone', value: entry.external_number, required: true });
  const status = el('div');
  const form = el('form', { class: 'row card', 'aria-label': 'Add customer' },
    field('Name', name), field('Phone', phone),
    el('button', { type: 'submit', class: 'primary' }, 'Save customer'), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      const c = await api('/api/crm/customers', { method: 'POST', body: { name: name.value.trim(), phone: phone.value.trim() } });
      cell.replaceChildren(el('a', { href: `#/customer/${c.id}` }, c.name),
        el('span', { class: 'muted' }, ' (added; calls from now on are matched)'));
    } catch (err) {
      status.replaceChildren(message(err.message, 'error'));
      button.disabled = false;
    }
  });
  cell.append(form);
  name.focus();
}

/// Does `entry` pass the filters of a list (for entries arriving live)?
export function matches(entry, filters) {
  for (const k of ['type', 'direction', 'source', 'disposition']) {
    if (filters[k] && entry[k] !== filters[k]) return false;
  }
  if (filters.customer_id && String(entry.customer_id) !== String(filters.customer_id)) return false;
  if (filters.since && entry.occurred_at < filters.since) return false;
  if (filters.until && entry.occurred_at >= filters.until) return false;
  return true;
}

/// A newest-first list: load() the first page, more() the next, prepend()
/// an entry that arrived live. Returns { node, load, prepend, update }.
export function entryList(session, emptyText) {
  const list = el('ul', { class: 'entries', 'aria-label': 'Comms entries' });
  const status = el('div', { class: 'list-status' });
  const moreButton = el('button', { type: 'button', class: 'more', hidden: true }, 'Older entries');
  const node = el('div', {}, status, list, moreButton);
  let filters = {};
  let cursor = null;
  let generation = 0;
  const ids = new Set();

  async function page(first) {
    const mine = ++generation;
    moreButton.disabled = true;
    try {
      const data = await api(withQuery('/api/crm/comms', { ...filters, limit: 50, cursor: first ? '' : cursor }));
      if (mine !== generation) return;
      if (first) { list.replaceChildren(); ids.clear(); }
      for (const entry of data.entries) {
        if (ids.has(entry.id)) continue;
        ids.add(entry.id);
        list.append(entryRow(entry, session));
      }
      cursor = data.next_cursor;
      moreButton.hidden = !cursor;
      status.replaceChildren(list.children.length ? '' : message(emptyText));
    } catch (e) {
      if (mine !== generation) return;
      status.replaceChildren(message(e instanceof ApiError ? e.message : String(e), 'error'));
    } finally {
      moreButton.disabled = false;
    }
  }
  moreButton.addEventListener('click', () => page(false));

  return {
    node,
    load(newFilters) { filters = newFilters; cursor = null; return page(true); },
    prepend(entry, fresh = true) {
      if (!matches(entry, filters)) return;
      if (ids.has(entry.id)) {
        list.querySelector(`[data-id="${entry.id}"]`)?.replaceWith(entryRow(entry, session));
        return;
      }
      ids.add(entry.id);
      list.prepend(entryRow(entry, session, { fresh }));
      status.replaceChildren();
    },
    rematch(entryId, customer) {
      const row = list.querySelector(`[data-id="${entryId}"] .who`);
      if (row) row.replaceChildren(el('a', { href: `#/customer/${customer.id}` }, customer.name));
    },
  };
}
