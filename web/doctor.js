// doctor.js: the doctor's answer as an N×N grid of who reaches whom.
//
// A cell is the worst of the pair's probes: the probe listener's
// handshake and, for the data ports (tcp_only rows), a TCP connect where
// a refusal means reachable. Green: reached; amber: busy (the worker was
// probing already); red: anything else. Hover for each probe's detail.

import { h, show } from './dom.js';

function rank(row) {
  if (row.status === 'ok' || (row.tcp_only && row.status === 'refused')) return 0;
  return row.status === 'busy' ? 1 : 2;
}

function cell(rows) {
  if (!rows.length) return h('td', { className: 'cell none', title: 'not probed' }, '?');
  const worst = Math.max(...rows.map(rank));
  const lines = rows.map((row) => `${row.tcp_only ? 'data port' : 'probe'} ${row.endpoint}: ${row.status}`
                                  + `${row.ms !== undefined ? ` in ${row.ms} ms` : ''}${row.detail ? ` (${row.detail})` : ''}`);
  const main = rows.find((row) => !row.tcp_only) || rows[0];
  return h('td', { className: `cell ${['ok', 'busy', 'bad'][worst]}`, title: lines.join('\n'), 'data-status': main.status },
    main.status === 'ok' && worst === 0 ? `${main.ms !== undefined ? main.ms : ''} ms` : main.status);
}

export function renderDoctor(container, reply) {
  const names = (reply.workers || []).filter((worker) => worker.state === 'alive').map((worker) => worker.node);
  const pairs = new Map();
  for (const row of reply.mesh || []) {
    const key = `${row.from}\u0000${row.to}`;
    if (!pairs.has(key)) pairs.set(key, []);
    pairs.get(key).push(row);
    for (const name of [row.from, row.to]) if (!names.includes(name)) names.push(name);
  }
  const grid = h('table', { className: 'grid' },
    h('thead', {}, h('tr', {}, h('th', {}, 'from \\ to'), names.map((name) => h('th', {}, name)))),
    h('tbody', {}, names.map((from) => h('tr', {}, h('th', {}, from), names.map((to) => from === to
      ? h('td', { className: 'cell self' }, '—')
      : cell(pairs.get(`${from}\u0000${to}`) || []))))));
  const verdict = reply.ok ? h('p', { className: 'ok-text' }, `OK: ${names.length} worker(s), no problem found.`)
                           : h('p', { className: 'error' }, 'Problems found:');
  show(container, verdict,
    (reply.problems || []).length ? h('ul', { className: 'error' }, reply.problems.map((problem) => h('li', {}, problem))) : null,
    (reply.warnings || []).length ? h('ul', { className: 'warn' }, reply.warnings.map((warning) => h('li', {}, warning))) : null,
    grid,
    h('p', { className: 'legend muted' }, h('span', { className: 'cell ok' }, 'reached'), ' ',
      h('span', { className: 'cell busy' }, 'busy'), ' ', h('span', { className: 'cell bad' }, 'unreachable, refused, timeout…')));
}
