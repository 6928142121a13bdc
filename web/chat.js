// chat.js: the chat playground: streams an answer from
// /v1/chat/completions (server-sent events) into the log as it comes.

import { stream } from './api.js';
import { h, show } from './dom.js';

export function setupChat(elements) {
  const { model, max, temperature, log, form, input, send, stop, clear, stats } = elements;
  let messages = [];
  let controller = null;

  function bubble(role, text) {
    const body = h('div', { className: 'text' }, text);
    const item = h('div', { className: `message ${role}` }, h('div', { className: 'role' }, role), body);
    log.append(item);
    log.scrollTop = log.scrollHeight;
    return body;
  }

  function busy(running) {
    send.hidden = running;
    stop.hidden = !running;
    input.disabled = running;
  }

  async function ask(prompt) {
    messages.push({ role: 'user', content: prompt });
    bubble('user', prompt);
    const answer = bubble('assistant', '');
    answer.classList.add('streaming');
    controller = new AbortController();
    busy(true);
    const started = performance.now();
    let first = 0, chunks = 0, text = '', usage = null, finish = '';
    try {
      await stream('/v1/chat/completions', {
        model: model.value, messages, stream: true, stream_options: { include_usage: true },
        max_tokens: Number(max.value) || 128, temperature: Number(temperature.value),
      }, (event) => {
        if (event.usage) usage = event.usage;
        const choice = (event.choices || [])[0];
        if (!choice) return;
        if (choice.finish_reason) finish = choice.finish_reason;
        const piece = choice.delta && choice.delta.content;
        if (!piece) return;
        if (!first) first = performance.now();
        chunks++;
        text += piece;
        answer.textContent = text;
        answer.dataset.chunks = String(chunks);
        log.scrollTop = log.scrollHeight;
      }, controller.signal);
      messages.push({ role: 'assistant', content: text });
      const seconds = (performance.now() - started) / 1000;
      const tokens = usage ? usage.completion_tokens : chunks;
      stats.textContent = `${tokens} tokens in ${seconds.toFixed(2)} s`
        + (first ? `, first after ${((first - started) / 1000).toFixed(2)} s` : '')
        + (tokens && first && seconds > (first - started) / 1000
          ? `, ${(tokens / (seconds - (first - started) / 1000)).toFixed(1)} tokens/s after it` : '')
        + (finish ? `, finish: ${finish}` : '');
      answer.dataset.done = 'true';
    } catch (error) {
      if (error.name === 'AbortError') {
        answer.append(h('span', { className: 'muted' }, ' [stopped]'));
        messages.push({ role: 'assistant', content: text });
      }
      else {
        answer.append(h('div', { className: 'error' }, error.message));
        messages.pop();
      }
      answer.dataset.done = 'error';
    } finally {
      answer.classList.remove('streaming');
      controller = null;
      busy(false);
      input.focus();
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const prompt = input.value.trim();
    if (!prompt || controller) return;
    if (!model.value) {
      stats.textContent = 'No model is ready: launch one first.';
      return;
    }
    input.value = '';
    ask(prompt);
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  stop.addEventListener('click', () => controller && controller.abort());
  clear.addEventListener('click', () => {
    if (controller) controller.abort();
    messages = [];
    show(log);
    stats.textContent = '';
  });

  // The ready models to choose from (the choice is kept while it stays ready).
  return function setModels(ready) {
    const current = model.value;
    const names = ready.map((item) => item.id);
    const key = JSON.stringify(names);
    if (model.dataset.names === key) return;
    model.dataset.names = key;
    if (!names.length) show(model, h('option', { value: '' }, '(no model ready)'));
    else show(model, names.map((name) => h('option', { value: name, selected: name === current }, name)));
  };
}
