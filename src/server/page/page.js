// The page of GET / (index.html): served as /page.js, so its Content-Security-Policy needs no inline script.
const $ = (id) => document.getElementById(id);
let indexes = [];

/** Shows an API error as the API words it. */
function showError(message) {
  $('error').textContent = message;
  $('error').style.display = message ? 'block' : 'none';
}

/**
 * The API key, when the server asks for one (a 401): kept in sessionStorage, so for this tab only and gone when it
 * closes, and sent as `Authorization: Bearer`; never a cookie, so another site cannot make the browser send it (no CSRF).
 */
const KEY_ITEM = 'erc-demos-key';
const storedKey = () => sessionStorage.getItem(KEY_ITEM);

/** A 401: the key form is shown; the error says so (the form is the way on). */
class KeyNeeded extends Error {}

/** Shows the key form with why it is asked for (a key that was refused is forgotten). */
function askForKey(message) {
  const refused = storedKey() !== null;
  sessionStorage.removeItem(KEY_ITEM);
  $('key-message').textContent = refused ? `The key was refused: ${message}` : `This service needs an API key: ${message}`;
  $('key-form').hidden = false;
  $('key').focus();
}

async function api(path, options = {}) {
  const key = storedKey();
  const headers = { ...(options.headers ?? {}), ...(key ? { authorization: `Bearer ${key}` } : {}) };
  const res = await fetch(path, { ...options, headers, credentials: 'omit' });
  const body = await res.json();
  if (res.status === 401) {
    askForKey(body.error ? body.error.message : 'HTTP 401');
    throw new KeyNeeded('enter an API key above');
  }
  if (res.status === 429) throw new Error(`${body.error ? body.error.message : 'too many requests'} (Retry-After: ${res.headers.get('retry-after')} s)`);
  if (!res.ok) throw new Error(body.error ? body.error.message : `HTTP ${res.status}`);
  return body;
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** One `speaker: text` line per turn; a single line without a speaker is a lone utterance. */
function parseInput(text) {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const turns = lines.map((line) => {
    const m = line.match(/^([^:：]{1,40})[:：]\s*(.+)$/);
    return m ? { speaker: m[1].trim(), text: m[2].trim() } : { speaker: 'Speaker', text: line };
  });
  return turns;
}

function renderLabels() {
  const index = indexes.find((i) => i.name === $('index').value);
  $('labels').replaceChildren(...(index ? index.manifest.labels : []).map((label) => {
    const l = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.value = label;
    l.append(box, label);
    return l;
  }));
}

/** How a corpus is named to people: its usual spelling where known, else its name in the index. */
const CORPUS_NAMES = { meld: 'MELD', emorynlp: 'EmoryNLP', iemocap: 'IEMOCAP', dailydialog: 'DailyDialog', 'semeval-ec': 'SemEval-EC' };
const corpusName = (corpus) => CORPUS_NAMES[corpus] ?? corpus;

/**
 * The corpus choice of a pooled index (manifest.sources, more than one): "all corpora", or any of its sources.
 * Ticking a corpus unticks "all"; ticking "all", or unticking every corpus, goes back to all. Hidden otherwise.
 */
function renderCorpora() {
  const index = indexes.find((i) => i.name === $('index').value);
  const sources = (index && index.manifest.sources) || [];
  $('corpora-box').hidden = sources.length <= 1;
  if (sources.length <= 1) return $('corpora').replaceChildren();
  const box = (value, text, checked) => {
    const l = document.createElement('label');
    const input = document.createElement('input');
    input.type = 'checkbox';
    input.value = value;
    input.checked = checked;
    l.append(input, text);
    return l;
  };
  const all = box('', 'all corpora', true);
  all.querySelector('input').id = 'corpus-all';
  const each = sources.map((s) => box(s.corpus, corpusName(s.corpus), false));
  $('corpora').replaceChildren(all, ...each);
  const allBox = all.querySelector('input');
  const boxes = each.map((l) => l.querySelector('input'));
  allBox.addEventListener('change', () => {
    if (allBox.checked) for (const b of boxes) b.checked = false;
    else if (!boxes.some((b) => b.checked)) allBox.checked = true;
  });
  for (const b of boxes) b.addEventListener('change', () => { allBox.checked = !boxes.some((x) => x.checked); });
}

/** The corpora chosen, or none (all: nothing is sent). */
function chosenCorpora() {
  if ($('corpora-box').hidden) return [];
  return [...$('corpora').querySelectorAll('input:checked')].map((b) => b.value).filter(Boolean);
}

function renderDemos(demos, took) {
  $('demos').replaceChildren(...demos.map((d) => {
    const tr = document.createElement('tr');
    const label = document.createElement('td');
    const chip = document.createElement('span');
    chip.className = 'label';
    chip.textContent = d.label ?? '—';
    label.append(chip);
    // In a unified pool the row's own label may differ: "mad (MELD anger)" (not EmoryNLP's "Joyful" for "joyful").
    if (d.source_label && d.source_label.toLowerCase() !== (d.label ?? '').toLowerCase()) {
      const own = document.createElement('span');
      own.className = 'source-label';
      own.textContent = `(${corpusName(d.corpus)} ${d.source_label})`;
      label.append(' ', own);
    }
    tr.dataset.corpus = d.corpus;
    tr.append(cell(d.score.toFixed(3), 'score'), label, cell(d.text), cell(d.speaker), cell(`${d.dialogue} #${d.turn}`), cell(corpusName(d.corpus), 'corpus'));
    return tr;
  }));
  const counts = new Map();
  for (const d of demos) counts.set(d.label ?? '—', (counts.get(d.label ?? '—') ?? 0) + 1);
  const max = Math.max(1, ...counts.values());
  $('bars').replaceChildren(...[...counts].sort((a, b) => b[1] - a[1]).map(([label, n]) => {
    const row = document.createElement('div');
    row.dataset.label = label;
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = label;
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = `${(12 * n) / max}rem`;
    const count = document.createElement('span');
    count.className = 'count';
    count.textContent = String(n);
    row.append(name, bar, count);
    return row;
  }));
  $('took').textContent = `${demos.length} demonstrations in ${took} ms`;
  $('results').hidden = false;
}

async function run(event) {
  event.preventDefault();
  showError('');
  const turns = parseInput($('input').value);
  if (turns.length === 0) return showError('utterance: must not be empty');
  const labels = [...$('labels').querySelectorAll('input:checked')].map((b) => b.value);
  const corpus = chosenCorpora();
  const strategy = $('strategy').value;
  const k = Number($('k').value);
  try {
    // The demonstrations for the target (last) turn, then the whole prompt for the dialogue.
    const query = new URLSearchParams({ utterance: turns[turns.length - 1].text, k: String(k), strategy, index: $('index').value });
    if (labels.length) query.set('labels', labels.join(','));
    if (corpus.length) query.set('corpus', corpus.join(','));
    const found = await api(`/demonstrations?${query}`);
    renderDemos(found.demonstrations, found.took_ms);
    const prompt = await api('/prompts', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ format: $('format').value, index: $('index').value, dialogue: { turns }, target: turns.length - 1, options: { k, strategy, ...(labels.length ? { labels } : {}), ...(corpus.length ? { corpus } : {}) } }),
    });
    $('prompt').textContent = prompt.prompt;
    $('target').textContent = prompt.target === null ? 'no expected answer (the turn has no label)' : `expected answer: ${prompt.target}`;
    $('prompt-section').hidden = false;
  } catch (error) {
    showError(error.message);
  }
}

async function start() {
  showError('');
  try {
    indexes = (await api('/indexes')).indexes;
    $('index').replaceChildren(...indexes.map((i) => new Option(`${i.name} (${i.manifest.corpus}, ${i.manifest.count})`, i.name)));
    const formats = (await api('/formats')).formats;
    $('format').replaceChildren(...formats.map((f) => new Option(f.name, f.name)));
    renderLabels();
    renderCorpora();
  } catch (error) {
    showError(error.message);
  }
}

$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const key = $('key').value.trim();
  if (!key) return;
  sessionStorage.setItem(KEY_ITEM, key);
  $('key').value = '';
  $('key-form').hidden = true;
  $('forget-key').hidden = false;
  start();
});
$('forget-key').addEventListener('click', () => {
  sessionStorage.removeItem(KEY_ITEM);
  $('forget-key').hidden = true;
  start();
});
$('forget-key').hidden = storedKey() === null;
$('index').addEventListener('change', () => { renderLabels(); renderCorpora(); });
$('query').addEventListener('submit', run);
$('copy').addEventListener('click', async () => {
  await navigator.clipboard.writeText($('prompt').textContent);
  $('copy').textContent = 'Copied';
  setTimeout(() => ($('copy').textContent = 'Copy'), 1500);
});
start();
