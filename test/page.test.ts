import { existsSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNIFIED_LABELS } from '../src/corpus/labels.js';
import { loadCorpus } from '../src/corpus/load.js';
import { loadSources } from '../src/corpus/sources.js';
import { createEmbedder } from '../src/embed/create.js';
import { buildIndex } from '../src/index/build.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { newKey } from '../src/keys/file.js';
import { ApiKeys } from '../src/keys/ring.js';
import { createApp } from '../src/server/app.js';
import { DemoService } from '../src/service/service.js';
import { HAVE_SHARED, SHARED_DATA, SHARED_SKIP_REASON, tempDir, utteranceCount } from './helpers.js';

/** Debian's chromium (playwright's own browser download does not work here); $CHROMIUM overrides. */
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) console.warn(`[erc-demos tests] no chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM): the page test is skipped`);

describe.skipIf(!HAVE_CHROMIUM)('the web page, in headless Chromium', () => {
  const dir = tempDir();
  let server: Server;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    const embedder = await createEmbedder('use-lite');
    const sample = loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' });
    await buildIndex({ dialogues: sample.dialogues, corpus: 'sample', splits: ['train'], embedder, out: join(dir, 'sample'), name: 'sample' });
    if (HAVE_SHARED) {
      // Served beside it: a small pool of MELD and EmoryNLP (the first 40 training dialogues of each), unified labels.
      const pool = loadSources([{ format: 'meld', data: join(SHARED_DATA, 'meld') }, { format: 'emorynlp', data: join(SHARED_DATA, 'emorynlp') }], { splits: ['train'] });
      const first = (corpus: string) => pool.dialogues.filter((d) => d.corpus === corpus).slice(0, 40);
      const kept = { meld: first('meld'), emorynlp: first('emorynlp') };
      const sources = pool.sources.map((s) => ({ ...s, dialogues: kept[s.corpus as keyof typeof kept].length, utterances: utteranceCount(kept[s.corpus as keyof typeof kept]) }));
      await buildIndex({
        dialogues: [...kept.meld, ...kept.emorynlp], corpus: pool.corpus, splits: ['train'], embedder, out: join(dir, 'pool'), name: 'pool',
        projection: { kind: 'none' }, labels: UNIFIED_LABELS,
        provenance: { label_space: pool.labelSpace, sources, label_map: pool.labelMap },
      });
    }
    const service = await DemoService.load([join(dir, 'sample'), ...(HAVE_SHARED ? [join(dir, 'pool')] : [])]);
    server = createApp(service).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  /** A page that records every console error and Content-Security-Policy violation (none is expected). */
  async function watchedPage(options?: Parameters<Browser['newPage']>[0]) {
    const page = await browser.newPage(options);
    const problems: string[] = [];
    page.on('console', (m) => {
      // The browser's own /favicon.ico request (the page names no icon) is a 404, not the page's doing.
      if (m.location().url.endsWith('/favicon.ico')) return;
      if (m.type() === 'error' || /Content.Security.Policy/i.test(m.text())) problems.push(`console ${m.type()}: ${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => console.error(`Content-Security-Policy violation: ${e.violatedDirective} ${e.blockedURI}`));
    });
    return { page, problems };
  }

  it('the page is served under a Content-Security-Policy that allows only its own files, unframable, unsniffable (issue 23, item 16)', async () => {
    const res = await fetch(base);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy')!;
    for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) expect(csp).toContain(directive);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    // Nothing inline for the policy to refuse: no <script> or <style> body, no style attribute, no on* handler.
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=/i);
    for (const [path, type] of [['/page.js', /^text\/javascript/], ['/page.css', /^text\/css/]] as const) {
      const file = await fetch(base + path);
      expect(file.status).toBe(200);
      expect(file.headers.get('content-type')).toMatch(type);
      expect(file.headers.get('x-content-type-options')).toBe('nosniff');
    }
    // nosniff on every answer: JSON, an error, a 404, the metrics; the API's answers frame nothing and load nothing.
    for (const [path, status] of [['/healthz', 200], ['/indexes', 200], ['/demonstrations?utterance=hi&k=0', 400], ['/nope', 404], ['/metrics', 200], ['/openapi.json', 200]] as const) {
      const answer = await fetch(base + path);
      expect(answer.status, path).toBe(status);
      expect(answer.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(answer.headers.get('x-frame-options'), path).toBe('DENY');
      expect(answer.headers.get('content-security-policy'), path).toBe("default-src 'none'; frame-ancestors 'none'");
    }
    const post = await fetch(`${base}/prompts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(post.status).toBe(400);
    expect(post.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('an utterance typed in gives demonstrations with labels, a per-label bar and the whole prompt', async () => {
    const { page, problems } = await watchedPage({ viewport: { width: 1200, height: 1400 } });
    await page.goto(base);
    await page.locator('#index option').first().waitFor({ state: 'attached' });
    expect(await page.locator('#index').inputValue()).toBe('sample');
    expect(await page.locator('#labels input').count()).toBe(7);
    await page.fill('#input', "There's a spider in the bathtub.");
    await page.fill('#k', '4');
    await page.selectOption('#format', 'instructerc');
    await page.click('#find');
    await page.locator('#prompt-section').waitFor({ state: 'visible' });
    const rows = page.locator('#demos tr');
    expect(await rows.count()).toBe(4);
    // The sample corpus holds this very sentence: first, with its gold label.
    expect(await rows.first().locator('td').nth(2).textContent()).toBe("There's a spider in the bathtub.");
    expect(await rows.first().locator('.label').textContent()).toBe('fear');
    const barTotal = (await page.locator('#bars .count').allTextContents()).reduce((n, c) => n + Number(c), 0);
    expect(barTotal).toBe(4);
    expect(await page.locator('#bars [data-label="fear"]').count()).toBe(1);
    const prompt = await page.locator('#prompt').textContent();
    expect(prompt).toContain("There's a spider in the bathtub.");
    expect(prompt).toMatch(/^Now you are expert of sentiment and emotional analysis/);
    // Styled by /page.css (the policy let it load): the bar has its width, the error box is hidden.
    expect(await page.locator('#k').evaluate((e) => getComputedStyle(e).width)).toBe('64px');
    expect(await page.locator('#bars .bar').first().evaluate((e) => getComputedStyle(e).backgroundColor)).toBe('rgb(47, 95, 208)');
    await page.screenshot({ path: join(process.env.ERC_DEMOS_SCREENSHOT_DIR ?? dir, 'page.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('a pasted dialogue makes a prompt over its turns; labels filter; API errors show as the API words them', async () => {
    const { page, problems } = await watchedPage();
    await page.goto(base);
    await page.locator('#index option').first().waitFor({ state: 'attached' });
    await page.fill('#input', 'Anna: Guess what? I got the job!\nBen: No way! That is amazing!');
    await page.selectOption('#strategy', 'per-label');
    await page.fill('#k', '1');
    await page.check('#labels input[value="joy"]');
    await page.check('#labels input[value="anger"]');
    await page.click('#find');
    await page.locator('#prompt-section').waitFor({ state: 'visible' });
    expect((await page.locator('#demos .label').allTextContents()).sort()).toEqual(['anger', 'joy']);
    const prompt = (await page.locator('#prompt').textContent())!;
    expect(prompt).toContain('Guess what? I got the job!');
    expect(prompt).toContain('No way! That is amazing!');
    await page.fill('#k', '500');
    await page.click('#find');
    await page.locator('#error').waitFor({ state: 'visible' });
    expect(await page.locator('#error').textContent()).toBe('k: must be between 1 and 100');
    // The API's 400 is an answer the page shows, not a console error of its own.
    expect(problems.filter((p) => !/status of 400/.test(p))).toEqual([]);
    await page.close();
  });

  it.skipIf(!HAVE_SHARED)(`a pooled index offers its corpora; one chosen, every demonstration is from it, own labels shown (${HAVE_SHARED ? 'shared data' : SHARED_SKIP_REASON})`, async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1400 } });
    const sent: { url: string; body: string | null }[] = [];
    page.on('request', (r) => { if (/\/(demonstrations|prompts)/.test(r.url())) sent.push({ url: r.url(), body: r.postData() }); });
    await page.goto(base);
    await page.locator('#index option').first().waitFor({ state: 'attached' });
    // The single-corpus index first: no corpus choice.
    expect(await page.locator('#index').inputValue()).toBe('sample');
    expect(await page.locator('#corpora-box').isVisible()).toBe(false);

    await page.selectOption('#index', 'pool');
    await page.locator('#corpora-box').waitFor({ state: 'visible' });
    expect(await page.locator('#corpora label').allTextContents()).toEqual(['all corpora', 'MELD', 'EmoryNLP']);
    expect(await page.locator('#corpus-all').isChecked()).toBe(true);
    expect(await page.locator('#labels input').count()).toBe(UNIFIED_LABELS.length);

    // MELD only, unified "mad": every row is MELD's own "anger", shown beside the unified label.
    await page.fill('#input', 'Why would you do that to me? I am so angry!');
    await page.fill('#k', '6');
    await page.check('#corpora input[value="meld"]');
    expect(await page.locator('#corpus-all').isChecked()).toBe(false);
    await page.check('#labels input[value="mad"]');
    await page.click('#find');
    await page.locator('#prompt-section').waitFor({ state: 'visible' });
    const rows = page.locator('#demos tr');
    expect(await rows.count()).toBe(6);
    expect(new Set(await page.locator('#demos td.corpus').allTextContents())).toEqual(new Set(['MELD']));
    expect(new Set(await page.locator('#demos tr').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.corpus)))).toEqual(new Set(['meld']));
    expect(new Set(await rows.locator('td:nth-child(2)').allTextContents())).toEqual(new Set(['mad (MELD anger)']));
    const meldQuery = new URL(sent.find((r) => r.url.includes('/demonstrations'))!.url).searchParams;
    expect(meldQuery.get('corpus')).toBe('meld');
    expect(JSON.parse(sent.find((r) => r.url.endsWith('/prompts'))!.body!).options.corpus).toEqual(['meld']);

    // EmoryNLP only, every label: every row from EmoryNLP.
    sent.length = 0;
    await page.uncheck('#labels input[value="mad"]');
    await page.uncheck('#corpora input[value="meld"]');
    expect(await page.locator('#corpus-all').isChecked()).toBe(true); // nothing ticked: back to all
    await page.check('#corpora input[value="emorynlp"]');
    await page.fill('#k', '10');
    await page.click('#find');
    await expect.poll(() => sent.filter((r) => r.url.endsWith('/prompts')).length).toBe(1);
    await page.waitForFunction(() => document.querySelectorAll('#demos tr').length === 10);
    expect(new Set(await page.locator('#demos td.corpus').allTextContents())).toEqual(new Set(['EmoryNLP']));
    expect(new URL(sent[0].url).searchParams.get('corpus')).toBe('emorynlp');
    expect(JSON.parse(sent[1].body!).options.corpus).toEqual(['emorynlp']);

    // All corpora again: nothing sent.
    sent.length = 0;
    await page.check('#corpus-all');
    expect(await page.locator('#corpora input[value="emorynlp"]').isChecked()).toBe(false);
    await page.click('#find');
    await expect.poll(() => sent.filter((r) => r.url.endsWith('/prompts')).length).toBe(1);
    expect(new URL(sent[0].url).searchParams.has('corpus')).toBe(false);
    expect(JSON.parse(sent[1].body!).options).not.toHaveProperty('corpus');
    await page.screenshot({ path: join(process.env.ERC_DEMOS_SCREENSHOT_DIR ?? dir, 'page-pool.png'), fullPage: true });

    // Back to the single-corpus index: hidden, and not sent.
    sent.length = 0;
    await page.selectOption('#index', 'sample');
    expect(await page.locator('#corpora-box').isVisible()).toBe(false);
    await page.click('#find');
    await expect.poll(() => sent.filter((r) => r.url.endsWith('/prompts')).length).toBe(1);
    expect(new URL(sent[0].url).searchParams.has('corpus')).toBe(false);
    expect(JSON.parse(sent[1].body!).options).not.toHaveProperty('corpus');
    await page.close();
  });
  it('with API keys: a 401 brings up the key form; a wrong key is refused and forgotten; the right one, kept for the tab in sessionStorage and sent as a header (no cookie), gives answers (issue 25)', async () => {
    const { key } = newKey('page-user', 'read');
    const file = join(dir, 'page-keys.json');
    writeFileSync(file, JSON.stringify({ keys: [{ name: 'page-user', scope: 'read', key }] }));
    const service = await DemoService.load([join(dir, 'sample')]);
    const keyed = createApp(service, { keys: new ApiKeys({ file }) }).listen(0, '127.0.0.1');
    await new Promise((r) => keyed.once('listening', r));
    const keyedBase = `http://127.0.0.1:${(keyed.address() as AddressInfo).port}`;
    try {
      const { page, problems } = await watchedPage();
      const sent: { url: string; authorization: string | undefined; cookie: string | undefined }[] = [];
      page.on('request', (r) => sent.push({ url: r.url(), authorization: r.headers().authorization, cookie: r.headers().cookie }));
      await page.goto(keyedBase);
      // The page's files answer without a key; /indexes does not: the form asks for one, with the API's words.
      await page.locator('#key-form').waitFor({ state: 'visible' });
      expect(await page.locator('#key-message').textContent()).toBe('This service needs an API key: this service needs a key: send the header Authorization: Bearer <key>');
      expect(await page.locator('#key').getAttribute('type')).toBe('password');

      await page.fill('#key', 'x'.repeat(43));
      await page.click('#use-key');
      await expect.poll(() => page.locator('#key-message').textContent()).toMatch(/^The key was refused: the key given is not a key of this service/);
      expect(await page.locator('#key-form').isVisible()).toBe(true);
      expect(await page.evaluate(() => sessionStorage.getItem('erc-demos-key'))).toBeNull();

      await page.fill('#key', key);
      await page.click('#use-key');
      await page.locator('#index option').first().waitFor({ state: 'attached' });
      expect(await page.locator('#key-form').isVisible()).toBe(false);
      await page.fill('#input', "There's a spider in the bathtub.");
      await page.fill('#k', '3');
      await page.click('#find');
      await page.locator('#prompt-section').waitFor({ state: 'visible' });
      expect(await page.locator('#demos tr').count()).toBe(3);
      expect(await page.locator('#demos tr').first().locator('.label').textContent()).toBe('fear');

      // The key: in this tab's sessionStorage, sent as a bearer header to the API, never as a cookie.
      expect(await page.evaluate(() => sessionStorage.getItem('erc-demos-key'))).toBe(key);
      expect(await page.evaluate(() => localStorage.length)).toBe(0);
      expect(await page.context().cookies()).toEqual([]);
      const apiCalls = sent.filter((r) => /\/(indexes|formats|demonstrations|prompts)/.test(r.url));
      expect(apiCalls.filter((r) => r.authorization === `Bearer ${key}`).map((r) => new URL(r.url).pathname)).toEqual(
        expect.arrayContaining(['/indexes', '/formats', '/demonstrations', '/prompts']));
      expect(sent.every((r) => r.cookie === undefined)).toBe(true);
      expect(sent.filter((r) => r.url.endsWith('.js') || r.url.endsWith('.css')).every((r) => r.authorization === undefined)).toBe(true);

      // A reload of the tab keeps it; another tab (a new browsing context) asks again.
      await page.reload();
      await page.locator('#index option').first().waitFor({ state: 'attached' });
      expect(await page.locator('#key-form').isVisible()).toBe(false);
      const other = await browser.newPage();
      await other.goto(keyedBase);
      await other.locator('#key-form').waitFor({ state: 'visible' });
      await other.close();
      // "Forget key" drops it and asks again.
      await page.click('#forget-key');
      await page.locator('#key-form').waitFor({ state: 'visible' });
      expect(await page.evaluate(() => sessionStorage.getItem('erc-demos-key'))).toBeNull();
      // The 401s are answers the page handles, not errors of its own.
      expect(problems.filter((p) => !/status of 401/.test(p))).toEqual([]);
      await page.close();
    } finally {
      await new Promise<void>((r) => keyed.close(() => r()));
      await service.close();
    }
  });
});
