// The web console in a real headless browser (Debian's chromium driven by
// playwright-core): test_console_browser.py runs it against a local node.
//
//   node console_browser.mjs CONFIG_JSON
//
// CONFIG: url, chromium (its path), keyless (only: the page of a gateway
// without keys), key (admin), user_key, model_path, bad_path,
// uid, prompt, max_tokens, timeout_ms, screenshot (a PNG path, opt). Prints one JSON line: what the page
// showed, for the Python side to check against the API. Every wait is
// playwright's polling with a deadline; nothing sleeps a fixed time.
import { chromium } from 'playwright-core';

const config = JSON.parse(process.argv[2]);
const timeout = config.timeout_ms;
const result = { problems: [] };

const browser = await chromium.launch({ executablePath: config.chromium, headless: true,
                                        args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(timeout);
  // Errors of the page's scripts fail the test; the 401s of the calls made
  // before the key is given and the 403s of the admin views with a user
  // key are expected (the browser logs them).
  page.on('pageerror', (error) => result.problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/status of 40[13]/.test(message.text())) {
      result.problems.push(`console error: ${message.text()}`);
    }
  });
  const requests = [];
  page.on('request', (request) => requests.push(new URL(request.url()).host));

  // A gateway without keys: the page shows the cluster and asks for none
  if (config.keyless) {
    await page.goto(config.url);
    await page.locator('#workers tr.worker.state-alive').waitFor();
    result.key_form_hidden = await page.locator('#key-form').isHidden();
    result.models_text = await page.locator('#models').textContent();
    console.log(JSON.stringify(result));
    process.exit(0);
  }

  // The page loads without a key and asks for one
  await page.goto(config.url);
  await page.locator('#key-form').waitFor({ state: 'visible' });
  result.key_prompt = await page.locator('#key-reason').textContent();
  await page.fill('#key-input', config.key);
  await page.click('#key-form button[type=submit]');

  // The workers, alive, with a heartbeat age
  await page.locator('#workers tr.worker.state-alive').nth(config.workers - 1).waitFor();
  result.workers = await page.locator('#workers tr.worker').evaluateAll((rows) => rows.map((row) => ({
    node: row.dataset.node, heartbeat: row.querySelector('.heartbeat').textContent,
    resources: row.cells[4].textContent })));

  // A launch of a file that is not there: the model fails, showing why
  await page.fill('#launch-form input[name=uid]', 'broken');
  await page.fill('#launch-form input[name=path]', config.bad_path);
  await page.click('#launch-button');
  const broken = page.locator('#models tr.model.state-failed[data-model="broken"] .status .error');
  await broken.waitFor();
  result.failed_error = await broken.textContent();

  // A launch through the form, then ready
  await page.fill('#launch-form input[name=uid]', config.uid);
  await page.fill('#launch-form input[name=path]', config.model_path);
  await page.fill('#launch-form input[name=threads]', '1');
  await page.selectOption('#launch-form select[name=kv_cache_dtype]', 'f32');
  await page.fill('#launch-form input[name=lora_modules]', config.lora);
  await page.click('#launch-button');
  await page.locator('#launch-result', { hasText: `launched ${config.uid}` }).waitFor();
  await page.locator(`#models tr.model.state-ready[data-model="${config.uid}"]`).waitFor();
  result.model_row = await page.locator(`#models tr.model[data-model="${config.uid}"]`).textContent();

  // The doctor's grid
  await page.click('#doctor-run');
  await page.locator('#doctor table.grid').waitFor();
  result.doctor_cells = await page.locator('#doctor table.grid td.cell').evaluateAll((cells) => cells.map((cell) => cell.className));

  // A short chat answer streamed into the playground, in pieces
  await page.locator(`#chat-model option[value="${config.uid}"]`).waitFor({ state: 'attached' });
  await page.selectOption('#chat-model', config.uid);
  await page.fill('#chat-max', String(config.max_tokens));
  await page.fill('#chat-temperature', '0');
  await page.fill('#chat-input', config.prompt);
  await page.click('#chat-send');
  await page.locator('#chat-log .message.assistant .text[data-done]').waitFor();
  result.chat_done = await page.locator('#chat-log .message.assistant .text').getAttribute('data-done');
  result.chat_text = await page.locator('#chat-log .message.assistant .text').textContent();
  result.chat_chunks = Number(await page.locator('#chat-log .message.assistant .text').getAttribute('data-chunks'));
  result.chat_stats = await page.locator('#chat-stats').textContent();

  // A long answer: its text is seen growing while it still streams (the
  // Stop button shown), then Stop ends it (the gateway cancels it)
  //  Read while the Stop button is up; the second reading also presses it
  //  (in the same moment, so that it is surely pressed while streaming).
  //  Null when the answer ended first: a browser starved of CPU on a
  //  loaded machine can miss the whole stream; then the answer is asked
  //  for again, at most 3 times.
  const streamed = async (least, stop) => {
    const reading = page.waitForFunction(([shorter, press]) => {
      const answer = document.querySelector('#chat-log .message.assistant .text');
      const length = answer ? answer.textContent.length : 0;
      const button = document.querySelector('#chat-stop');
      if (answer && answer.hasAttribute('data-done') && button.hidden) return -1;
      if (button.hidden || length <= shorter) return false;
      if (press) button.click();
      return length;
    }, [least, stop], { polling: 10 });
    const length = await (await reading).jsonValue();
    return length < 0 ? null : length;
  };
  let first = null, second = null;
  for (let attempt = 1; attempt <= 3 && second === null; attempt++) {
    await page.click('#chat-clear');
    await page.fill('#chat-max', String(config.long_tokens));
    await page.fill('#chat-input', config.prompt);
    await page.click('#chat-send');
    first = await streamed(0, false);
    second = first === null ? null : await streamed(first, true);
    await page.locator('#chat-log .message.assistant .text[data-done]').waitFor();
    result.long_attempts = attempt;
  }
  result.long = { first, second, text: await page.locator('#chat-log .message.assistant .text').textContent() };

  if (config.screenshot) await page.screenshot({ path: config.screenshot, fullPage: true });

  // A user key: the cluster views say they need the admin role, the
  // models stay listed for the chat
  await page.click('#key-button');
  await page.fill('#key-input', config.user_key);
  await page.click('#key-form button[type=submit]');
  result.user_workers = await page.locator('#workers p.error', { hasText: 'admin role' }).textContent();
  await page.locator(`#models tr.model.state-ready[data-model="${config.uid}"]`).waitFor();
  result.user_chat_model = await page.locator('#chat-model').inputValue();
  result.hosts = [...new Set(requests)];
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
