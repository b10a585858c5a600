// doable in a real browser: the whole journey with JavaScript (htmx, no full
// page loads for task actions) and without (plain forms and redirects).
//
//   cargo build && (cd tests/browser && npm ci && npm test)
//
// Without /usr/bin/chromium the suite skips; DOABLE_REQUIRE_BROWSER=1 makes
// that a failure (CI).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { PASSWORD, browserRequired, launchBrowser, missingBrowser, startServer, uniqueEmail } from './harness.mjs';

const missing = missingBrowser();
if (missing && !browserRequired) {
  console.log(`# skipped: the browser suite needs Chromium: ${missing}`);
}
const skip = missing && !browserRequired ? missing : false;

let server;
let browser;

before(async () => {
  if (skip) return;
  if (missing) throw new Error(`DOABLE_REQUIRE_BROWSER=1 but ${missing}`);
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function newPage({ js = true, viewport = { width: 1280, height: 800 }, colorScheme = 'light' } = {}) {
  const context = await browser.newContext({ javaScriptEnabled: js, viewport, colorScheme, baseURL: server.base });
  context.setDefaultTimeout(5000);
  const page = await context.newPage();
  page.on('pageerror', (err) => { throw err; });
  return page;
}

/// The list item of the task with exactly this title.
function task(page, title) {
  return page.locator('li.task', { has: page.locator('.title', { hasText: new RegExp(`^${escape(title)}$`) }) });
}

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function titles(page) {
  return page.locator('#tasks li.task .title').allTextContents();
}

async function signUp(page, email) {
  await page.goto('/signup');
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL('**/tasks');
}

async function signIn(page, email) {
  await page.goto('/signin');
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL('**/tasks');
}

/// Adds a task by typing its title and pressing Enter, as a person would.
async function addTask(page, title) {
  await page.fill('#new-title', title);
  await page.press('#new-title', 'Enter');
  await task(page, title).waitFor();
}

/// With JavaScript, a marker on `window` survives only if no page load happened.
async function markWindow(page) {
  await page.evaluate(() => { window.doableMarker = 'still here'; });
}

async function assertNoReload(page, what) {
  const marker = await page.evaluate(() => window.doableMarker);
  assert.equal(marker, 'still here', `${what} reloaded the page`);
}

/// Creates many tasks quickly through the same form posts the page makes.
async function createMany(page, count, prefix) {
  const csrf = await page.locator('#new-task input[name=csrf_token]').inputValue();
  for (let n = 1; n <= count; n++) {
    const response = await page.request.post('/tasks', {
      form: { csrf_token: csrf, title: `${prefix} ${n}` },
      maxRedirects: 0,
    });
    assert.equal(response.status(), 303);
  }
}

for (const js of [true, false]) {
  describe(js ? 'with JavaScript' : 'without JavaScript', { skip }, () => {
    it('signs up, adds, edits, toggles, filters, searches, pages, deletes, signs out and in', async () => {
      const page = await newPage({ js });
      const email = uniqueEmail(js ? 'js' : 'nojs');
      await signUp(page, email);
      await assert.doesNotReject(page.locator('.empty').waitFor(), 'an empty list says what to do');
      if (js) await markWindow(page);

      // Add: Enter submits, the input is cleared and keeps focus for the next one.
      await addTask(page, 'Buy milk');
      await addTask(page, 'Call the bank');
      await page.fill('#new-title', 'Plan trip');
      await page.click('#new-task summary');
      await page.fill('#new-description', 'Book a hotel near the sea');
      await page.fill('#new-due', '2020-01-01');
      await page.click('#new-task button[type=submit]');
      await task(page, 'Plan trip').waitFor();
      assert.deepEqual(await titles(page), ['Plan trip', 'Call the bank', 'Buy milk']);
      assert.equal(await page.inputValue('#new-title'), '');
      if (js) {
        assert.equal(await page.evaluate(() => document.activeElement?.id), 'new-title', 'focus stays in the input');
      }
      await assert.doesNotReject(task(page, 'Plan trip').locator('.due.overdue').waitFor());
      assert.match(await page.locator('.counts').textContent(), /3\s+items left/);

      // Edit: inline with JavaScript, on its own page without.
      await task(page, 'Buy milk').getByRole('link', { name: /^Edit/ }).click();
      const title = page.locator('li.task.editing input[name=title], form.edit-form input[name=title]').first();
      await title.waitFor();
      if (js) {
        await page.waitForFunction(() => document.activeElement?.name === 'title'); // the edit field has focus
        await title.fill('Something else');
        await title.press('Escape');
        await task(page, 'Buy milk').waitFor();
        assert.equal(await page.locator('li.task.editing').count(), 0, 'Escape cancels');
        await task(page, 'Buy milk').getByRole('link', { name: /^Edit/ }).click();
        await title.waitFor();
      } else {
        assert.match(page.url(), /\/tasks\/\d+\/edit/);
      }
      await title.fill('Buy oat milk');
      await title.press('Enter');
      await task(page, 'Buy oat milk').waitFor();
      assert.equal(await task(page, 'Buy milk').count(), 0);

      // Toggle.
      await task(page, 'Call the bank').locator('button.check').click();
      await page.locator('li.task.done', { hasText: 'Call the bank' }).waitFor();
      assert.match(await page.locator('.counts').textContent(), /2\s+items left/);

      // Filters are links: the URL follows, and Back goes back.
      await page.getByRole('link', { name: 'Active', exact: true }).click();
      await page.waitForURL(/status=active/);
      await task(page, 'Call the bank').waitFor({ state: 'detached' });
      assert.deepEqual(await titles(page), ['Plan trip', 'Buy oat milk']);
      await page.getByRole('link', { name: 'Completed', exact: true }).click();
      await page.waitForURL(/status=completed/);
      await task(page, 'Plan trip').waitFor({ state: 'detached' });
      assert.deepEqual(await titles(page), ['Call the bank']);
      if (js) await assertNoReload(page, 'adding, editing, toggling or filtering');
      // Back restores the previous view (htmx keeps no copy of private pages
      // in localStorage, so with JavaScript this one is a page load).
      await page.goBack();
      await page.waitForURL(/status=active/);
      await task(page, 'Plan trip').waitFor();
      if (js) await markWindow(page);
      assert.deepEqual(await titles(page), ['Plan trip', 'Buy oat milk']);
      await page.getByRole('link', { name: 'All', exact: true }).click();
      await page.waitForURL((url) => !url.search.includes('status='));
      await task(page, 'Call the bank').waitFor();

      // Search, in title and description.
      await page.fill('#search', 'sea');
      await page.press('#search', 'Enter');
      await page.waitForURL(/q=sea/);
      await task(page, 'Buy oat milk').waitFor({ state: 'detached' });
      assert.deepEqual(await titles(page), ['Plan trip']);
      await page.fill('#search', '');
      await page.press('#search', 'Enter');
      await task(page, 'Buy oat milk').waitFor();

      // Delete.
      await task(page, 'Plan trip').getByRole('button', { name: /^Delete/ }).click();
      await task(page, 'Plan trip').waitFor({ state: 'detached' });
      assert.deepEqual(await titles(page), ['Call the bank', 'Buy oat milk']);
      if (js) await assertNoReload(page, 'filtering, searching or deleting');

      // Pages of 50: older and newer.
      await createMany(page, 50, 'Chore');
      await page.goto('/tasks');
      if (js) await markWindow(page);
      assert.equal(await page.locator('#tasks li.task').count(), 50);
      await page.getByRole('link', { name: /Older/ }).click();
      await task(page, 'Buy oat milk').waitFor();
      assert.deepEqual(await titles(page), ['Call the bank', 'Buy oat milk']);
      await page.getByRole('link', { name: /Newer/ }).click();
      await task(page, 'Chore 50').waitFor();
      if (js) await assertNoReload(page, 'paging');

      // Sign out, and back in to the same tasks.
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL('**/signin');
      await page.goto('/tasks');
      await page.waitForURL(/\/signin/);
      await signIn(page, email);
      assert.equal(await page.locator('#tasks li.task').count(), 50);
      await page.context().close();
    });
  });
}
