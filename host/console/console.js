// The admin console: plain DOM, the management API, nothing fetched from elsewhere.
'use strict';

const API = '/admin/v1';
const state = {
  token: sessionStorage.getItem('scripthost-token'), me: null, selected: null,
  // Failure details the reader opened: kept open across the table's refreshes.
  opened: new Set(),
};
const $ = (selector) => document.querySelector(selector);

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'onclick') node.addEventListener('click', value);
    else if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ''));
  return node;
}

async function api(path, options = {}) {
  const response = await fetch(API + path, {
    ...options,
    headers: { Authorization: `Bearer ${state.token}`, 'Content-Type': 'application/json' },
  });
  const body = response.status === 204 ? {} : await response.json();
  if (!response.ok) throw new Error(`${response.status} ${body.error}: ${body.message}`);
  return body;
}

const endpointUrl = (ns, path) => `/endpoints/${ns}${path}`;
const fmt = (value, unit = '') => (value === null || value === undefined ? '–' : `${value}${unit}`);
const compact = (n) => (n === null || n === undefined ? '–' : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(0)}k` : String(n));
const when = (seconds) => new Date(seconds * 1000).toLocaleTimeString();

// A sparkline of requests per second over the last minute; errors in red.
function sparkline(series) {
  const width = 120, height = 26;
  const peak = Math.max(1, ...series.map((p) => p.requests));
  const x = (i) => (i / Math.max(1, series.length - 1)) * width;
  const y = (v) => height - 1 - (v / peak) * (height - 2);
  const line = (key) => series.map((p, i) => `${x(i).toFixed(1)},${y(p[key]).toFixed(1)}`).join(' ');
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('width', width);
  svg.setAttribute('height', height);
  svg.innerHTML = `<polyline fill="none" stroke="#2563eb" stroke-width="1.5" points="${line('requests')}"/>`
    + `<polyline fill="none" stroke="#b91c1c" stroke-width="1.5" points="${line('errors')}"/>`;
  return svg;
}

async function login(token) {
  state.token = token;
  state.me = await api('/whoami');
  sessionStorage.setItem('scripthost-token', token);
  $('#who').textContent = `${state.me.name}${state.me.admin ? ' (admin)' : ''}`;
  $('#login').hidden = true;
  $('#app').hidden = false;
  $('#logout').hidden = false;
  await refresh();
  setInterval(refresh, 2000);
}

async function refresh() {
  const [endpoints, stats, audit, traffic] = await Promise.all([
    api('/endpoints'), api('/stats'), api('/audit?limit=50'), api('/traffic'),
  ]);
  renderEndpoints(endpoints.endpoints, stats, traffic.traffic);
  renderFailures(stats.recent_failures);
  renderEvents('#deploys', stats.deploys);
  renderEvents('#audit', audit.events);
  const processes = stats.processes === 1 ? '' : ` (${stats.processes} processes)`;
  $('#host-load').textContent =
    `${stats.running} running, ${stats.queue_depth} queued on this host${processes}`;
  if (state.endpoint) await renderTraffic(state.endpoint);
}

// An endpoint's canary and rules, in a word or two.
function splitBadges(traffic) {
  if (!traffic) return [];
  const badges = [];
  if (traffic.candidate) badges.push(el('span', { class: 'badge' }, `canary ${traffic.candidate} ${traffic.percent}%`));
  if (traffic.rules.length) badges.push(el('span', { class: 'badge' }, `${traffic.rules.length} rule(s)`));
  return badges;
}

function renderEndpoints(endpoints, stats, traffic) {
  const byKey = new Map(stats.endpoints.map((s) => [`${s.namespace}${s.path}`, s]));
  const splits = new Map(traffic.map((t) => [`${t.namespace}${t.path}`, t]));
  const rows = endpoints.map((e) => {
    const key = `${e.namespace}${e.path}`;
    const s = byKey.get(key) ?? { series: [], outcomes: {}, error_rate: 0, breaker: 'closed' };
    const toggle = el('button', {
      class: e.enabled ? 'danger' : 'primary',
      'data-testid': `switch-${key}`,
      onclick: async (event) => {
        event.stopPropagation();
        await api(`${endpointUrl(e.namespace, e.path)}/-/enabled`, {
          method: 'PUT', body: JSON.stringify({ enabled: !e.enabled }),
        });
        await refresh();
      },
    }, e.enabled ? 'Disable' : 'Enable');
    const errors = Object.entries(s.outcomes).filter(([k]) => k !== 'ok').map(([k, v]) => `${k} ${v}`).join(', ');
    return el('tr', {
      class: `endpoint${state.selected === key ? ' selected' : ''}`,
      'data-testid': `endpoint-${key}`,
      onclick: () => select(e),
    },
    el('td', {}, el('strong', {}, key), ' ', e.enabled ? '' : el('span', { class: 'badge bad' }, 'disabled')),
    el('td', { 'data-testid': `active-${key}` }, e.active_version ?? '–', ' ', ...splitBadges(splits.get(key))),
    el('td', {}, sparkline(s.series.length ? s.series : [{ requests: 0, errors: 0 }])),
    el('td', { class: 'num', 'data-testid': `rps-${key}` }, fmt(s.rps)),
    el('td', { class: 'num' }, fmt(s.p50_ms, ' ms')),
    el('td', { class: 'num' }, fmt(s.p99_ms, ' ms')),
    el('td', { title: errors }, s.requests ? `${(s.error_rate * 100).toFixed(1)}%` : '–'),
    el('td', { class: 'num' }, compact(s.fuel_p50)),
    el('td', { class: 'num' }, s.memory_p50 ? `${(s.memory_p50 / 1048576).toFixed(1)} MiB` : '–'),
    el('td', {}, el('span', { class: `badge ${s.breaker === 'closed' ? 'ok' : 'bad'}` }, s.breaker)),
    el('td', {}, toggle));
  });
  $('#endpoints tbody').replaceChildren(...rows);
}

async function select(endpoint) {
  state.selected = `${endpoint.namespace}${endpoint.path}`;
  state.endpoint = endpoint;
  $('#detail').hidden = false;
  $('#detail-name').textContent = state.selected;
  await Promise.all([renderVersions(endpoint), renderQuotas(endpoint), renderTraffic(endpoint)]);
}

// Admins and the owning team may change an endpoint's traffic.
const mayChange = (endpoint) => state.me.admin || state.me.namespaces.includes(endpoint.namespace);

async function renderTraffic(endpoint) {
  const url = endpointUrl(endpoint.namespace, endpoint.path);
  const [traffic, canary, { versions }] = await Promise.all([
    api(`${url}/-/traffic`), api(`${url}/-/canary`), api(`${url}/-/versions`),
  ]);
  if (state.endpoint !== endpoint) return; // another endpoint was selected meanwhile
  const split = traffic.candidate
    ? `${traffic.stable} for ${+(100 - traffic.percent).toFixed(2)}%, candidate ${traffic.candidate} for ${traffic.percent}% of devices`
    : `${traffic.stable ?? 'no version'} for every device, no canary`;
  $('#traffic-summary').textContent = `${split} (sticky on ${traffic.sticky_header})`;
  $('#rules tbody').replaceChildren(...traffic.rules.map((rule, i) => el('tr', {},
    el('td', {}, i + 1), el('td', {}, rule.header), el('td', {}, rule.values.join(', ')),
    el('td', {}, rule.version))));
  renderCanaryForm(endpoint, traffic, versions);
  renderCanary(endpoint, canary);
}

function renderCanaryForm(endpoint, traffic, versions) {
  const form = $('#canary-form');
  form.hidden = !mayChange(endpoint) || Boolean(traffic.candidate) || !traffic.stable;
  const candidates = versions.filter((v) => !v.active).map((v) => v.id);
  const select = $('#canary-version');
  const chosen = select.value;
  select.replaceChildren(...candidates.map((id) => el('option', { value: id }, id)));
  if (candidates.includes(chosen)) select.value = chosen;
  form.onsubmit = (event) => {
    event.preventDefault();
    const body = { candidate: select.value, percent: Number($('#canary-percent').value) };
    changeTraffic(endpoint, '', { method: 'PATCH', body: JSON.stringify(body) });
  };
}

async function changeTraffic(endpoint, action, options) {
  const url = `${endpointUrl(endpoint.namespace, endpoint.path)}/-/traffic${action}`;
  try {
    await api(url, options);
    $('#traffic-result').textContent = 'Done; every host applies it within a refresh interval.';
  } catch (error) {
    $('#traffic-result').textContent = error.message;
  }
  await Promise.all([renderVersions(endpoint), renderTraffic(endpoint)]);
}

// The candidate beside the stable version over the same run, as the analysis judges it.
function renderCanary(endpoint, canary) {
  const last = canary.recorded;
  $('#last-verdict').textContent = !canary.running && last
    ? `The analysis' last verdict on ${last.candidate} (against ${last.stable}): ${last.verdict}`
      + ` (${last.cause})${last.applied ? ', applied' : ''}. ${last.reasons.join('; ')}`
    : '';
  $('#canary').hidden = !canary.running;
  if (!canary.running) return;
  const { arms, checks, verdict, cause, reasons } = canary.analysis;
  $('#canary-stable').textContent = `stable ${canary.stable}`;
  $('#canary-candidate').textContent = `candidate ${canary.candidate}`;
  $('#canary-verdict').replaceChildren(
    el('span', { class: `badge ${verdict === 'rollback' ? 'bad' : verdict === 'promote' ? 'ok' : ''}` },
      `${verdict} (${cause})`),
    ` over ${canary.hosts} host(s)`);
  const rows = [
    ['Requests', (a) => a.requests], ['Failure rate', (a) => `${(a.failure_rate * 100).toFixed(1)}%`],
    ['p50', (a) => fmt(a.p50_ms, ' ms')], ['p99', (a) => fmt(a.p99_ms, ' ms')],
    ['Fuel p99', (a) => compact(a.fuel_p99)],
    ['Memory p99', (a) => (a.memory_p99 ? `${(a.memory_p99 / 1048576).toFixed(1)} MiB` : '–')],
  ];
  $('#canary-arms tbody').replaceChildren(...rows.map(([name, value]) => el('tr', {},
    el('th', {}, name),
    el('td', { class: 'num', 'data-testid': `canary-stable-${name}` }, value(arms.stable)),
    el('td', { class: 'num', 'data-testid': `canary-candidate-${name}` }, value(arms.candidate)))));
  $('#canary-checks tbody').replaceChildren(...checks.map((c) => el('tr', {},
    el('td', {}, c.metric), el('td', { class: 'num' }, fmt(c.stable)),
    el('td', { class: 'num' }, fmt(c.candidate)), el('td', { class: 'num' }, c.limit),
    el('td', {}, el('span', { class: `badge ${c.passed ? 'ok' : 'bad'}` }, c.passed ? 'pass' : 'fail')))));
  $('#canary-reasons').replaceChildren(...reasons.map((reason) => el('li', {}, reason)));
  $('#canary-actions').hidden = !mayChange(endpoint);
  const end = (action) => () => changeTraffic(endpoint, `/${action}`, {
    method: 'POST', body: JSON.stringify({ canary_id: canary.canary_id }),
  });
  $('#canary-promote').onclick = end('promote');
  $('#canary-abort').onclick = end('abort');
}

async function renderVersions(endpoint) {
  const url = endpointUrl(endpoint.namespace, endpoint.path);
  const { versions } = await api(`${url}/-/versions`);
  const rows = versions.map((v) => el('tr', {},
    el('td', {}, v.id, ' ', v.active ? el('span', { class: 'badge ok' }, 'active') : ''),
    el('td', { title: v.runtime ? `runtime ${v.runtime}` : 'a module of its own' }, v.language, v.runtime ? ' bundle' : ''),
    el('td', {}, v.author),
    el('td', {}, new Date(v.created_at).toLocaleString()), el('td', {}, v.message),
    el('td', {}, v.active ? '' : el('button', {
      'data-testid': `activate-${v.id}`,
      onclick: async () => {
        await api(`${url}/-/activate`, { method: 'POST', body: JSON.stringify({ version: v.id }) });
        await select(endpoint);
        await refresh();
      },
    }, 'Roll back / activate'))));
  $('#versions tbody').replaceChildren(...rows);
  const withSource = versions.filter((v) => v.has_source).map((v) => v.id);
  for (const [selector, pick] of [['#diff-from', 1], ['#diff-to', 0]]) {
    $(selector).replaceChildren(...withSource.map((id) => el('option', { value: id }, id)));
    if (withSource[pick]) $(selector).value = withSource[pick];
  }
  $('#diff-button').onclick = async () => {
    const [a, b] = await Promise.all([$('#diff-from').value, $('#diff-to').value]
      .map((id) => api(`${url}/-/versions/${id}/files`)));
    $('#diff').replaceChildren(...filesDiff(a.files, b.files));
  };
}

// Every file of the two versions that differs, each under its name.
function filesDiff(before, after) {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const changed = names.filter((name) => before[name] !== after[name]);
  if (changed.length === 0) return [el('div', {}, 'no differences')];
  return changed.flatMap((name) => [
    el('div', { class: 'file', 'data-testid': `diff-file-${name}` },
      name in before ? (name in after ? name : `${name} (removed)`) : `${name} (new)`),
    ...lineDiff((before[name] ?? '').split('\n'), (after[name] ?? '').split('\n')),
  ]);
}

// The longest common subsequence of lines, as +/- lines (sources are small).
function lineDiff(before, after) {
  const table = Array.from({ length: before.length + 1 }, () => new Array(after.length + 1).fill(0));
  for (let i = before.length - 1; i >= 0; i--) {
    for (let j = after.length - 1; j >= 0; j--) {
      table[i][j] = before[i] === after[j] ? table[i + 1][j + 1] + 1 : Math.max(table[i + 1][j], table[i][j + 1]);
    }
  }
  const out = [];
  let i = 0, j = 0;
  while (i < before.length || j < after.length) {
    if (i < before.length && j < after.length && before[i] === after[j]) { out.push(el('div', {}, `  ${before[i]}`)); i++; j++; }
    else if (j < after.length && (i >= before.length || table[i][j + 1] >= table[i + 1][j])) { out.push(el('div', { class: 'add' }, `+ ${after[j]}`)); j++; }
    else { out.push(el('div', { class: 'del' }, `- ${before[i]}`)); i++; }
  }
  return out;
}

async function renderQuotas(endpoint) {
  const url = `${endpointUrl(endpoint.namespace, endpoint.path)}/-/quotas`;
  const quotas = await api(url);
  const editable = state.me.admin;
  $('#quota-mode').textContent = editable ? 'overrides of this endpoint (admin)' : 'read-only';
  const rows = Object.entries(quotas.effective).map(([name, value]) => el('tr', {},
    el('td', {}, name),
    el('td', {}, editable
      ? el('input', { type: 'number', name, value: quotas.overrides[name] ?? '', placeholder: String(value) })
      : String(value)),
    el('td', {}, name in quotas.overrides ? el('span', { class: 'badge' }, 'override') : '')));
  $('#quotas tbody').replaceChildren(...rows);
  $('#quota-save').hidden = !editable;
  $('#quota-form').onsubmit = async (event) => {
    event.preventDefault();
    const overrides = {};
    for (const input of $('#quota-form').querySelectorAll('input')) {
      if (input.value !== '') overrides[input.name] = Number(input.value);
    }
    try {
      await api(url, { method: 'PUT', body: JSON.stringify({ quotas: overrides }) });
      $('#quota-result').textContent = 'Saved; every host applies it within a refresh interval.';
    } catch (error) {
      $('#quota-result').textContent = error.message;
    }
  };
}

function renderFailures(failures) {
  const rows = failures.slice(0, 30).map((f) => el('tr', { 'data-testid': `failure-${f.request_id}` },
    el('td', {}, when(f.at)), el('td', {}, `${f.namespace}${f.path}`), el('td', {}, f.version ?? ''),
    el('td', {}, f.status), el('td', {}, el('span', { class: 'badge bad' }, f.failure)),
    el('td', {}, f.message,
      f.guest_detail ? failureDetail(`${f.request_id}:stack`, 'stack', 'Stack trace', f.guest_detail) : '',
      failureDetail(`${f.request_id}:calls`, 'calls', `Host calls (${f.trace.length})`,
        f.trace.map((t) => `${t.call} ${t.detail} -> ${t.result} (${t.duration_ms} ms)`).join('\n') || 'no host calls'))));
  $('#failures tbody').replaceChildren(...rows);
}

function failureDetail(key, kind, label, text) {
  const details = el('details', { class: kind }, el('summary', {}, label), el('div', { class: 'trace' }, text));
  details.open = state.opened.has(key);
  details.addEventListener('toggle', () => {
    if (details.open) state.opened.add(key);
    else state.opened.delete(key);
  });
  return details;
}

function renderEvents(selector, events) {
  $(selector).replaceChildren(...events.map((e) => el('li', {},
    el('time', {}, new Date(e.at).toLocaleString()), ' ',
    el('strong', {}, e.action), ' ', `${e.namespace ?? '*'}${e.path ?? ''}`, ' ',
    e.details.version ? `${e.details.version} ` : '', el('small', {}, `by ${e.actor}`))));
}

$('#login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    await login($('#token').value.trim());
  } catch (error) {
    $('#login-error').textContent = `Login failed: ${error.message}`;
  }
});
$('#logout').addEventListener('click', () => {
  sessionStorage.removeItem('scripthost-token');
  location.reload();
});
if (state.token) login(state.token).catch(() => sessionStorage.removeItem('scripthost-token'));
