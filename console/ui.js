// Small DOM helpers shared by every view. Text always goes in as text nodes
// (never innerHTML), so nothing from the API can inject markup.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'class') node.className = v;
    else if (v === true) node.setAttribute(k, '');
    else node.setAttribute(k, v);
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

const SVG = 'http://www.w3.org/2000/svg';

export function phoneIcon() {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'icon');
  svg.setAttribute('aria-hidden', 'true');
  const p = document.createElementNS(SVG, 'path');
  p.setAttribute('fill', 'currentColor');
  p.setAttribute('d', 'M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1z');
  svg.append(p);
  return svg;
}

/// 75 -> "1:15"
export function mss(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

const ARROWS = { inbound: ['↙', 'Inbound'], outbound: ['↗', 'Outbound'], internal: ['↔', 'Internal'] };

export function directionArrow(direction) {
  const [glyph, label] = ARROWS[direction] || ['•', direction || 'Unknown direction'];
  return el('span', { class: 'dir', title: label, role: 'img', 'aria-label': label }, glyph);
}

const when = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function localTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : when.format(d);
}

/// "2026-12-01T17:05" for an <input type=datetime-local>, in local time.
export function localInputValue(date) {
  const p = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())}T${p(date.getHours())}:${p(date.getMinutes())}`;
}

export function dispositionBadge(disposition) {
  if (!disposition) return null;
  return el('span', { class: `badge ${disposition}` }, disposition.replace('_', ' '));
}

export function message(text, kind = 'muted') {
  return el('p', { class: kind, role: kind === 'error' ? 'alert' : 'status' }, text);
}

let uniqueCounter = 0;
export function uid(prefix) {
  uniqueCounter += 1;
  return `${prefix}-${uniqueCounter}`;
}

/// A labelled control: <div><label for=id>text</label>control</div>
export function field(labelText, control, extra = null) {
  if (!control.id) control.id = uid('f');
  return el('div', {}, el('label', { for: control.id }, labelText), control, extra);
}
