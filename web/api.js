// api.js: the gateway's JSON API with the user's key, and its
// server-sent event streams.
//
// The key is kept in this tab's sessionStorage only and sent as
// 'Authorization: Bearer KEY'; the console's own files need none.

const KEY_ITEM = 'xinf-console-key';

export function apiKey() {
  return sessionStorage.getItem(KEY_ITEM) || '';
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_ITEM, key);
  else sessionStorage.removeItem(KEY_ITEM);
}

// An HTTP error with the OpenAI-shaped body's message and code.
export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code || '';
  }
}

function headers(json) {
  const result = {};
  const key = apiKey();
  if (key) result.Authorization = `Bearer ${key}`;
  if (json) result['Content-Type'] = 'application/json';
  return result;
}

async function failure(response) {
  const text = await response.text();
  let error = null;
  try { error = JSON.parse(text).error; } catch (ignored) { /* not JSON */ }
  return new ApiError(response.status, error && error.message ? error.message : `${response.status} ${text || response.statusText}`,
                      error && error.code);
}

// The parsed JSON answer of METHOD PATH (with a JSON body), or an ApiError.
export async function call(method, path, body) {
  let response;
  try {
    response = await fetch(path, { method, headers: headers(body !== undefined), cache: 'no-store',
                                   body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, `the gateway cannot be reached: ${error.message}`, 'unreachable');
  }
  if (!response.ok) throw await failure(response);
  return response.json();
}

// POSTs a body with stream: true and calls onEvent (parsed JSON) for each
// 'data:' event as it arrives, until [DONE] or the end; 'signal' aborts it
// (the gateway then cancels the generation).
export async function stream(path, body, onEvent, signal) {
  const response = await fetch(path, { method: 'POST', headers: headers(true), body: JSON.stringify(body), signal,
                                       cache: 'no-store' });
  if (!response.ok) throw await failure(response);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    pending += decoder.decode(value, { stream: true });
    let end;
    while ((end = pending.indexOf('\n\n')) >= 0) {
      const event = pending.slice(0, end);
      pending = pending.slice(end + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') return;
        onEvent(JSON.parse(data));
      }
    }
  }
}
