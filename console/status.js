// /readyz with the token (the details an anonymous prober does not get);
// a 503 carries the same report, saying what is not ready and why.
import { token } from './api.js';
import { el, message } from './ui.js';

export function statusView({ main }) {
  const out = el('div', {}, message('Asking switchboard…'));
  main.append(el('h1', {}, 'Status'), out,
    el('p', {}, el('a', { href: '/metrics' }, 'Prometheus metrics (/metrics)'), ' · ',
      el('a', { href: '/openapi.yaml' }, 'API description (/openapi.yaml)')));
  fetchReady().then((report) => {
    const rows = (report.connections || []).map((c) => el('tr', {},
      el('td', {}, c.pbx || c.name || ''), el('td', { class: c.state === 'logged_in' || c.state === 'up' ? 'ok' : 'error' }, c.state || ''),
      el('td', {}, c.last_error || '')));
    out.replaceChildren(
      el('p', { class: report.status === 'ready' ? 'ok state' : 'error state' }, report.status === 'ready' ? 'Ready' : 'Not ready'),
      report.message ? message(report.message, 'error') : null,
      el('p', {}, 'Database: ', el('span', { class: report.database === 'ok' ? 'ok' : 'error' }, report.database)),
      el('table', {}, el('caption', { class: 'muted' }, 'Connections (PBXes and CloudAgent)'),
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Name'), el('th', { scope: 'col' }, 'State'), el('th', { scope: 'col' }, 'Last error'))),
        el('tbody', {}, rows.length ? rows : el('tr', {}, el('td', { colspan: 3 }, 'No PBX or CloudAgent connection configured.')))));
  }).catch((e) => out.replaceChildren(message(e.message, 'error')));
}

async function fetchReady() {
  const res = await fetch('/readyz', { headers: { Accept: 'application/json', Authorization: `Bearer ${token()}` }, cache: 'no-store' });
  const report = await res.json().catch(() => null);
  if (!report) throw new Error(`/readyz answered HTTP ${res.status} without a report`);
  return report;
}
