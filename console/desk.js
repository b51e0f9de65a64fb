// The agent's call desk: CloudAgent's real state for this agent, dialling,
// the current call, and the disposition form after a call, which stays (and
// comes first) until it is submitted.
import { api, ApiError } from './api.js';
import { el, field, message, localTime, uid } from './ui.js';
import { onEvent } from './events.js';

const STATES = {
  ready: 'Ready', busy: 'On a call', acw: 'After-call work', paused: 'Paused',
  logged_out: 'Logged out', unknown: 'Unknown',
};

function dispositionForm(agentId, call, dispositions, onDone) {
  const choice = el('select', { name: 'disposition', required: true },
    el('option', { value: '' }, 'Choose…'),
    dispositions.list.map((d) => el('option', { value: d.name }, d.campaign && d.campaign !== d.name ? `${d.name} (${d.campaign})` : d.name)));
  if (!dispositions.list.length && dispositions.default) choice.append(el('option', { value: dispositions.default }, dispositions.default));
  const notes = el('textarea', { name: 'notes' });
  const callback = el('input', { type: 'datetime-local', name: 'callback_time' });
  const status = el('div');
  const submit = el('button', { type: 'submit', class: 'primary' }, 'Submit disposition');
  const form = el('form', { class: 'card disposition', 'aria-label': 'Disposition', 'data-ucid': call.ucid },
    el('h2', {}, 'Disposition for the call with ', call.phone_number || 'unknown number'),
    el('p', { class: 'muted' }, 'Ended ', localTime(call.ended_at), '. CloudAgent holds you in after-call work until this is submitted.'),
    field('Disposition', choice), field('Notes', notes), field('Callback time (optional)', callback),
    el('div', { class: 'row' }, submit), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    status.replaceChildren();
    const body = { ucid: call.ucid, agent_id: agentId, disposition: choice.value, notes: notes.value };
    // CloudAgent takes "YYYY-MM-DD HH:MM:SS" in the campaign's local time.
    if (callback.value) body.callback_time = `${callback.value.replace('T', ' ')}:00`;
    try {
      await api('/api/ozonetel/dispose', { method: 'POST', body });
      onDone(call.ucid);
    } catch (err) {
      status.replaceChildren(message(err.message, 'error'));
      submit.disabled = false;
    }
  });
  return form;
}

export function deskView({ session, main }) {
  const agentId = session.agentId;
  const stateBox = el('div', { class: 'card', 'aria-live': 'polite' }, message('Asking CloudAgent…'));
  const dispositionBox = el('div');
  const callBox = el('div');
  const notice = el('div', { role: 'status' });
  const number = el('input', { name: 'phone_number', type: 'tel', autocomplete: 'off', required: true });
  const dialForm = el('form', { class: 'row card', 'aria-label': 'Dial' },
    field('Number to dial', number), el('button', { type: 'submit', class: 'primary' }, 'Dial'));
  const ready = el('button', { type: 'button' }, 'Ready');
  const forceReady = el('button', { type: 'button', class: 'danger' }, 'Force Ready');
  const actions = el('div', { class: 'row card' }, ready, forceReady,
    el('span', { class: 'muted', id: uid('fr') }, 'Force Ready logs you out of CloudAgent and in again, which ends after-call work.'));
  main.append(el('h1', {}, 'Call desk ', el('span', { class: 'muted' }, agentId)), notice, dispositionBox, stateBox, callBox, dialForm, actions);

  const forms = new Map();
  const dispositions = { list: [], default: '' };
  let stopped = false;

  const say = (text, kind = 'muted') => notice.replaceChildren(message(text, kind));

  async function refresh() {
    let s;
    try {
      s = await api(`/api/ozonetel/agents/${encodeURIComponent(agentId)}/state`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && e.code !== 'agent_not_found') {
        stateBox.replaceChildren(message('This switchboard has no call desk (its agents API is missing).', 'error'));
      } else stateBox.replaceChildren(message(e.message, 'error'));
      return;
    }
    if (stopped) return;
    const key = s.cloudagent_state in STATES ? s.cloudagent_state : 'unknown';
    stateBox.replaceChildren(el('div', { class: `state ${key}`, 'data-state': s.cloudagent_state },
      STATES[s.cloudagent_state] || s.cloudagent_state),
      s.pending_dial ? el('p', {}, `Dialling ${s.pending_dial.phone_number}…`) : null);
    callBox.replaceChildren(s.current_call ? el('div', { class: 'card current-call' },
      el('h2', {}, 'Current call'), el('p', {}, `${s.current_call.direction || ''} ${s.current_call.phone_number || ''}`),
      el('p', { class: 'muted' }, 'Since ', localTime(s.current_call.since), ' · UCID ', s.current_call.ucid)) : '');
    const waiting = s.awaiting_disposition || [];
    for (const [ucid, form] of forms) if (!waiting.some((c) => c.ucid === ucid)) { form.remove(); forms.delete(ucid); }
    for (const call of waiting) {
      if (forms.has(call.ucid)) continue;
      const form = dispositionForm(agentId, call, dispositions, (done) => {
        forms.get(done)?.remove();
        forms.delete(done);
        say('Disposition submitted.', 'ok');
        refresh();
      });
      forms.set(call.ucid, form);
      dispositionBox.append(form);
    }
    // The disposition comes first: no new call until the last one is done.
    dialForm.hidden = waiting.length > 0 || Boolean(s.current_call);
  }

  dialForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const r = await api('/api/ozonetel/dial', { method: 'POST', body: { phone_number: number.value.trim(), agent_id: agentId } });
      say(`Dialling ${number.value.trim()}: CloudAgent rings your phone first.${r?.ucid ? ` UCID ${r.ucid}` : ''}`);
      number.value = '';
    } catch (err) { say(err.message, 'error'); }
    refresh();
  });
  ready.addEventListener('click', async () => {
    try {
      try {
        await api(`/api/ozonetel/agents/${encodeURIComponent(agentId)}/state`, { method: 'POST', body: { state: 'Ready' } });
      } catch (err) {
        // A server from before per-agent routes: the account's agent.
        if (err.status !== 404 && err.status !== 405) throw err;
        await api('/api/ozonetel/agent-state', { method: 'POST', body: { state: 'Ready', agent_id: agentId } });
      }
      say('You are Ready.', 'ok');
    } catch (err) {
      say(err.status === 409 ? `Ready was refused: ${err.message}` : err.message, 'error');
    }
    refresh();
  });
  forceReady.addEventListener('click', async () => {
    forceReady.disabled = true;
    try {
      await api(`/api/ozonetel/agents/${encodeURIComponent(agentId)}/force-ready`, { method: 'POST', body: {} });
      say('Forced Ready: CloudAgent logged you out and in again.', 'ok');
    } catch (err) { say(err.message, 'error'); }
    forceReady.disabled = false;
    refresh();
  });

  api('/api/ozonetel/dispositions').then((d) => {
    dispositions.list = d.dispositions || [];
    dispositions.default = d.default || '';
  }).catch(() => {}).finally(refresh);
  const stop = onEvent((kind, data) => {
    if (kind.startsWith('ozonetel.') && (!data.agent_id || data.agent_id === agentId)) refresh();
  });
  // CloudAgent may change the state without telling us (its own timers).
  const timer = setInterval(refresh, 10000);
  return () => { stopped = true; stop(); clearInterval(timer); };
}
