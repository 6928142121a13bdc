// panels.js: the cluster's workers, models, waits and events as tables.

import { age, bar, bytes, dot, h, show, table } from './dom.js';

function resources(worker) {
  const parts = [];
  if (worker.cpus) parts.push(`${worker.cpus} CPUs`);
  if (worker.memory_bytes) {
    parts.push(`memory ${bytes(worker.memory_available_bytes)} free of ${bytes(worker.memory_bytes)}`);
  }
  for (const device of worker.devices || []) {
    if (device.kind !== 'cpu') parts.push(`${device.kind} ${device.index}: ${device.name} ${bytes(device.memory_bytes)}`);
  }
  // Whether its build has NCCL (GPU tensor parallelism); absent: it does not say
  if (worker.nccl) parts.push(`NCCL ${worker.nccl_version || '(version unknown)'}`);
  else if (worker.nccl === false) parts.push('no NCCL in its build');
  return parts.join(', ');
}

// 'hosted': worker -> ["uid/replica state", ...] from the models' progress.
export function renderWorkers(container, cluster, hosted) {
  const workers = cluster.workers || [];
  if (!workers.length) {
    show(container, h('p', { className: 'muted' }, 'No worker has registered.'));
    return;
  }
  const rows = workers.map((worker) => h('tr', { className: `worker state-${worker.state}`, 'data-node': worker.node },
    h('td', {}, dot(worker.state), ' ', h('strong', {}, worker.node)),
    h('td', {}, worker.state, h('span', { className: 'muted' }, ` for ${age(worker.state_age_ms)}`)),
    h('td', { className: 'heartbeat' }, age(worker.last_heartbeat_ms)),
    h('td', {}, worker.host_ip || '', worker.observed_address && worker.observed_address !== worker.host_ip
      ? h('span', { className: 'warn' }, ` (seen as ${worker.observed_address})`) : ''),
    h('td', {}, resources(worker)),
    h('td', {}, (hosted[worker.node] || []).join(', ')),
    h('td', { className: 'warn' }, (worker.warnings || []).join('; '))));
  show(container, table(['worker', 'state', 'heartbeat age', 'address', 'resources', 'replicas', 'warnings'], rows));
}

function replicaCell(replica) {
  const parts = [dot(replica.state), ` ${replica.replica} on ${replica.worker || '?'}: ${replica.state}`];
  if (replica.bytes_total && replica.state !== 'ready') {
    parts.push(' ', bar(replica.bytes_done, replica.bytes_total,
                        `${bytes(replica.bytes_done)} / ${bytes(replica.bytes_total)}`, 'load'));
  }
  if (replica.kv_blocks_used !== undefined) {
    const total = replica.kv_blocks_used + replica.kv_blocks_free;
    parts.push(' ', bar(replica.kv_blocks_used, total, `KV ${replica.kv_blocks_used} / ${total} blocks`, 'kv'));
  }
  if (replica.error) parts.push(h('div', { className: 'error' }, replica.error));
  if (replica.note) parts.push(h('div', { className: 'muted' }, replica.note));
  return h('div', { className: 'replica' }, parts);
}

// 'models': /v1/models' data; 'progress': uid -> its /progress answer.
export function renderModels(container, models, progress, onTerminate) {
  if (!models.length) {
    show(container, h('p', { className: 'muted' }, 'No model is launched. Use the form below.'));
    return;
  }
  const rows = models.map((model) => {
    const detail = progress[model.id] || {};
    const total = detail.bytes_total || 0;
    const loading = detail.state === 'loading' || detail.state === 'relaunching';
    return h('tr', { className: `model state-${model.status}`, 'data-model': model.id },
      h('td', {}, dot(model.status), ' ', h('strong', {}, model.id)),
      h('td', { className: 'status' }, model.status,
        loading && total ? h('div', {}, bar(detail.bytes_done, total, `loading ${bytes(detail.bytes_done)} / ${bytes(total)}`, 'load')) : '',
        detail.error ? h('div', { className: 'error' }, detail.error) : ''),
      h('td', {}, [model.arch, model.type, model.context_length ? `ctx ${model.context_length}` : '',
        model.kv_cache_dtype ? `KV ${model.kv_cache_dtype}` : '',
        (model.adapters || []).length ? `LoRA ${model.adapters.join(', ')}` : ''].filter(Boolean).join(' · ')),
      h('td', {}, (detail.replicas || []).map(replicaCell)),
      h('td', { className: 'path' }, model.path || ''),
      h('td', {}, h('button', { type: 'button', className: 'quiet', onclick: () => onTerminate(model.id) }, 'Terminate')));
  });
  show(container, table(['model', 'status', 'kind', 'replicas', 'path', ''], rows));
}

export function renderWaits(container, waits) {
  if (!waits.length) {
    show(container, h('p', { className: 'muted' }, 'Nothing is waiting.'));
    return;
  }
  const rows = waits.map((wait) => h('tr', { className: wait.stalled ? 'stalled' : '' },
    h('td', {}, wait.node || ''), h('td', {}, wait.actor), h('td', {}, wait.what), h('td', {}, wait.peer || ''),
    h('td', {}, age(wait.age_ms)), h('td', {}, String(wait.progress)), h('td', {}, age(wait.idle_ms)),
    h('td', {}, wait.stalled ? h('strong', { className: 'error' }, 'stalled') : `stalls after ${age(wait.stall_ms)}`)));
  show(container, table(['node', 'actor', 'waits for', 'peer', 'age', 'progress', 'idle', ''], rows));
}

// Events, newest first (the caller keeps the list).
export function renderEvents(container, events) {
  if (!events.length) {
    show(container, h('p', { className: 'muted' }, 'No events yet.'));
    return;
  }
  const rows = events.slice().reverse().map((event) => h('tr', { className: `event kind-${event.kind}` },
    h('td', {}, new Date(event.time_ms).toLocaleTimeString()), h('td', {}, event.kind), h('td', {}, event.node),
    h('td', {}, event.detail)));
  show(container, table(['time', 'event', 'node', 'detail'], rows));
}
