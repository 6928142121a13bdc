// console.js: the console's page: refreshes the cluster's state every
// second, asks for an API key when the gateway wants one, and wires the
// launch form, the doctor and the chat playground.

import { ApiError, apiKey, call, setApiKey } from './api.js';
import { setupChat } from './chat.js';
import { renderDoctor } from './doctor.js';
import { h, show } from './dom.js';
import { renderEvents, renderModels, renderWaits, renderWorkers } from './panels.js';

const REFRESH_MS = 1000;
const EVENTS_KEPT = 200;
const $ = (id) => document.getElementById(id);

let events = [];
let hosted = {};                 // worker -> its replicas, from the last models refresh
let eventsNext = 0;
let refreshing = null;

function askForKey(reason) {
  $('key-reason').textContent = reason;
  if ($('key-form').hidden) {
    $('key-form').hidden = false;
    $('key-input').focus();
  }
}

function problem(text) {
  $('problem').textContent = text || '';
  $('problem').hidden = !text;
}

// An error of one view: 401 asks for a key, 403 says which role is needed.
function viewError(container, error) {
  if (error instanceof ApiError && error.status === 401) {
    askForKey(apiKey() ? 'The gateway refused this API key: enter another.' : 'This gateway needs an API key.');
  }
  const text = error instanceof ApiError && error.status === 403
    ? 'This view needs a key with the admin role (the chat works with a user key).' : error.message;
  show(container, h('p', { className: 'error' }, text));
}

async function refreshModels(setModels) {
  const all = (await call('GET', '/v1/models')).data || [];
  setModels(all.filter((model) => model.status === 'ready'));   // a LoRA adapter chats as a model too
  const list = all.filter((model) => !model.parent);           // the launched models, their adapters in their row
  for (const model of list) model.adapters = all.filter((item) => item.parent === model.id).map((item) => item.id);
  const progress = {};
  await Promise.all(list.map(async (model) => {
    try {
      progress[model.id] = await call('GET', `/v1/models/${encodeURIComponent(model.id)}/progress`);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 403) progress[model.id] = { error: error.message };
    }
  }));
  renderModels($('models'), list, progress, terminate);
  hosted = {};
  for (const [uid, detail] of Object.entries(progress)) {
    for (const replica of detail.replicas || []) {
      for (const rank of replica.ranks || [{ worker: replica.worker, state: replica.state }]) {
        (hosted[rank.worker] = hosted[rank.worker] || []).push(`${uid}/${replica.replica} ${rank.state}`);
      }
    }
  }
}

async function refreshEvents() {
  const reply = await call('GET', `/v1/cluster/events?since=${eventsNext}&limit=${EVENTS_KEPT}`);
  if (reply.next < eventsNext) events = [];       // a new supervisor numbers from 1 again
  events = events.concat(reply.events || []).slice(-EVENTS_KEPT);
  eventsNext = reply.next;
  renderEvents($('events'), events);
}

async function refresh(setModels) {
  const models = refreshModels(setModels);
  const views = [
    ['workers', async () => {
      const cluster = await call('GET', '/v1/cluster');
      await models.catch(() => null);             // the replicas each worker hosts, as of now
      renderWorkers($('workers'), cluster, hosted);
      const alive = (cluster.workers || []).filter((worker) => worker.state === 'alive').length;
      const requests = cluster.requests || {};
      $('summary').textContent = `supervisor ${cluster.supervisor.node} · ${alive}/${(cluster.workers || []).length} workers alive`
        + ` · ${requests.running || 0} running, ${requests.queued || 0} queued`;
    }],
    ['models', () => models],
    ['waits', async () => renderWaits($('waits'), (await call('GET', '/v1/cluster/waits')).waits || [])],
    ['events', refreshEvents],
  ];
  const results = await Promise.allSettled(views.map(([, view]) => view()));
  let reached = false;
  results.forEach((result, index) => {
    if (result.status === 'rejected') viewError($(views[index][0]), result.reason);
    reached = reached || result.status === 'fulfilled' || result.reason.status > 0;
  });
  problem(reached ? '' : 'The gateway cannot be reached; retrying every second.');
  $('refreshed').textContent = `updated ${new Date().toLocaleTimeString()}`;
}

function loop(setModels) {
  refreshing = refresh(setModels).finally(() => setTimeout(() => loop(setModels), REFRESH_MS));
}

async function terminate(uid) {
  if (!window.confirm(`Terminate model ${uid}? Its requests end.`)) return;
  try {
    await call('DELETE', `/v1/models/${encodeURIComponent(uid)}`);
  } catch (error) {
    problem(`Terminate ${uid}: ${error.message}`);
  }
}

// The launch form's fields as LAUNCH's: empty numbers are left out.
async function launch(event) {
  event.preventDefault();
  const form = event.target;
  const body = { uid: form.uid.value.trim(), path: form.path.value.trim() };
  for (const name of ['replicas', 'n_worker', 'threads', 'kv_cache_mb', 'max_seqs']) {
    if (form[name].value !== '') body[name] = Number(form[name].value);
  }
  if (form.kv_cache_dtype.value !== 'auto') body.kv_cache_dtype = form.kv_cache_dtype.value;
  const adapters = form.lora_modules.value.split(',').map((item) => item.trim()).filter(Boolean);
  if (adapters.length) body.lora_modules = adapters;
  const result = $('launch-result');
  $('launch-button').disabled = true;
  result.className = 'muted';
  result.textContent = `launching ${body.uid}…`;
  try {
    const reply = await call('POST', '/v1/models', body);
    result.textContent = `launched ${reply.uid}: ${reply.state}`
      + ((reply.warnings || []).length ? ` (warnings: ${reply.warnings.join('; ')})` : '');
  } catch (error) {
    result.className = 'error';
    result.textContent = error.status === 403 ? 'Launching needs a key with the admin role.' : error.message;
    if (error.status === 401) askForKey('This gateway needs an API key.');
  } finally {
    $('launch-button').disabled = false;
  }
}

async function doctor() {
  $('doctor-run').disabled = true;
  $('doctor-state').textContent = 'probing…';
  try {
    renderDoctor($('doctor'), await call('GET', '/v1/cluster/doctor?timeout_ms=2000'));
    $('doctor-state').textContent = `at ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    $('doctor-state').textContent = '';
    viewError($('doctor'), error);
  } finally {
    $('doctor-run').disabled = false;
  }
}

function setupKey(setModels) {
  $('key-button').addEventListener('click', () => askForKey('The API key to send with the console\'s calls.'));
  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    setApiKey($('key-input').value.trim());
    $('key-input').value = '';
    $('key-form').hidden = true;
    refreshing.then(() => refresh(setModels));
  });
  $('key-forget').addEventListener('click', () => {
    setApiKey('');
    $('key-form').hidden = true;
  });
}

const setModels = setupChat({
  model: $('chat-model'), max: $('chat-max'), temperature: $('chat-temperature'), log: $('chat-log'),
  form: $('chat-form'), input: $('chat-input'), send: $('chat-send'), stop: $('chat-stop'), clear: $('chat-clear'),
  stats: $('chat-stats'),
});
setupKey(setModels);
$('launch-form').addEventListener('submit', launch);
$('doctor-run').addEventListener('click', doctor);
loop(setModels);
