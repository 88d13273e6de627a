import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/corpus/load.js';
import { createEmbedder } from '../src/embed/create.js';
import { buildIndex } from '../src/index/build.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { createApp } from '../src/server/app.js';
import { DemoService } from '../src/service/service.js';
import { tempDir } from './helpers.js';

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
    const service = await DemoService.load([join(dir, 'sample')]);
    server = createApp(service).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('an utterance typed in gives demonstrations with labels, a per-label bar and the whole prompt', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1400 } });
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
    await page.screenshot({ path: join(process.env.ERC_DEMOS_SCREENSHOT_DIR ?? dir, 'page.png'), fullPage: true });
    await page.close();
  });

  it('a pasted dialogue makes a prompt over its turns; labels filter; API errors show as the API words them', async () => {
    const page = await browser.newPage();
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
    await page.close();
  });
});
