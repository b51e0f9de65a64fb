// The inbox: the whole comms log newest first, filtered, with new entries
// arriving live.
import { el, field } from './ui.js';
import { entryList } from './entries.js';
import { onEvent } from './events.js';

function select(name, options) {
  return el('select', { name }, options.map(([value, label]) => el('option', { value }, label)));
}

/// Local midnight of an <input type=date> value as UTC ISO-8601.
function dayStart(value, plusDays = 0) {
  if (!value) return '';
  const [y, m, d] = value.split('-').map(Number);
  return new Date(y, m - 1, d + plusDays).toISOString();
}

export function inboxView({ session, main }) {
  const type = select('type', [['', 'All types'], ['call', 'Call']]);
  const direction = select('direction', [['', 'Any direction'], ['inbound', 'Inbound'], ['outbound', 'Outbound'], ['internal', 'Internal']]);
  const disposition = select('disposition', [['', 'Any outcome'], ['answered', 'Answered'], ['no_answer', 'No answer'], ['busy', 'Busy'], ['failed', 'Failed']]);
  const source = select('source', [['', 'Any source'], ['ami', 'PBX (AMI)'], ['ozonetel', 'CloudAgent'], ['manual', 'Logged by hand']]);
  const customer = el('input', { name: 'customer_id', type: 'number', min: 1, inputmode: 'numeric', placeholder: 'id', size: 6 });
  const from = el('input', { name: 'from', type: 'date' });
  const to = el('input', { name: 'to', type: 'date' });
  const form = el('form', { class: 'row filters card', 'aria-label': 'Filters' },
    field('Type', type), field('Direction', direction), field('Outcome', disposition), field('Source', source),
    field('Customer', customer), field('From', from), field('To', to),
    el('button', { type: 'submit', class: 'primary' }, 'Apply'),
    el('button', { type: 'reset' }, 'Clear'));
  const list = entryList(session, 'No entries match these filters.');
  const filters = () => ({
    type: type.value, direction: direction.value, disposition: disposition.value, source: source.value,
    customer_id: customer.value, since: dayStart(from.value), until: dayStart(to.value, 1),
  });
  form.addEventListener('submit', (e) => { e.preventDefault(); list.load(filters()); });
  form.addEventListener('reset', () => setTimeout(() => list.load(filters())));
  for (const s of [type, direction, disposition, source]) s.addEventListener('change', () => list.load(filters()));
  main.append(el('h1', {}, 'Inbox'), form, list.node);
  list.load(filters());
  return onEvent((kind, data) => {
    if ((kind === 'call.logged' || kind === 'manual.logged') && data.entry) list.prepend(data.entry);
    else if (kind === 'call.matched' && data.customer) list.rematch(data.entry_id, data.customer);
  });
}
