import { charCount } from '../chars.js';
import { PromptTooLongError, TemplateError } from '../errors.js';

/** Values a template may use; null means "unknown here" (a missing score): a template that needs it yields null. */
export type TemplateVars = Readonly<Record<string, string | null>>;

/** Errors of templates and prompt sizes (defined with the other errors in errors.ts). */
export { PromptTooLongError, TemplateError } from '../errors.js';

/** A template, parsed: literal text and placeholders, in order. */
export type TemplatePiece = { text: string } | { name: string };

/** How a template writes a brace that is not a placeholder's. */
export const BRACE_ESCAPES = 'write {{ for a literal { and }} for a literal }';

const parsedTemplates = new Map<string, readonly TemplatePiece[]>();

/**
 * Splits a template into literal text and `{name}` placeholders. `{{` and `}}` are a literal `{` and `}`; any other
 * brace must open or close a placeholder, so `{Label}`, `{ text }` or `{__proto__}` are placeholders (refused by
 * whoever knows the names: formats.ts, fill) and a lone `{` or `}` is a TemplateError saying where it is.
 */
export function parseTemplate(template: string): readonly TemplatePiece[] {
  const cached = parsedTemplates.get(template);
  if (cached) return cached;
  const pieces: TemplatePiece[] = [];
  let text = '';
  let i = 0;
  while (i < template.length) {
    const c = template[i];
    if (c === '{' && template[i + 1] === '{') {
      text += '{';
      i += 2;
    } else if (c === '}' && template[i + 1] === '}') {
      text += '}';
      i += 2;
    } else if (c === '{') {
      const close = template.indexOf('}', i + 1);
      const reopen = template.indexOf('{', i + 1);
      if (close < 0 || (reopen >= 0 && reopen < close)) {
        throw new TemplateError(`a "{" at character ${i + 1} opens no placeholder (${BRACE_ESCAPES})`);
      }
      if (text) pieces.push({ text });
      text = '';
      pieces.push({ name: template.slice(i + 1, close) });
      i = close + 1;
    } else if (c === '}') {
      throw new TemplateError(`a "}" at character ${i + 1} closes no placeholder (${BRACE_ESCAPES})`);
    } else {
      const next = nextBrace(template, i);
      text += template.slice(i, next);
      i = next;
    }
  }
  if (text) pieces.push({ text });
  // Templates are few (the built-in formats, a user's): a bounded cache spares re-parsing per turn and per prompt.
  if (parsedTemplates.size >= 256) parsedTemplates.clear();
  parsedTemplates.set(template, pieces);
  return pieces;
}

function nextBrace(template: string, from: number): number {
  const open = template.indexOf('{', from);
  const close = template.indexOf('}', from);
  if (open < 0) return close < 0 ? template.length : close;
  return close < 0 ? open : Math.min(open, close);
}

/** The placeholder names a template uses that are not among `known` (each once, in order). */
export function unknownPlaceholders(template: string, known: readonly string[]): string[] {
  const unknown = new Set<string>();
  for (const piece of parseTemplate(template)) if ('name' in piece && !known.includes(piece.name)) unknown.add(piece.name);
  return [...unknown];
}

/** What to shorten when a part of the prompt is too long, by the placeholder that carries it. */
const PARAM_OF: Readonly<Record<string, string>> = { history: 'options.window', demonstrations: 'options.k', examples: 'options.k', text: 'dialogue.turns' };

function placeholderError(where: string, name: string, vars: TemplateVars): TemplateError {
  return new TemplateError(`${where}: unknown placeholder {${name}} (known: ${Object.keys(vars).map((k) => `{${k}}`).join(', ')}; ${BRACE_ESCAPES})`);
}

/**
 * The size `fill` would produce in characters (code points), computed without building it, the characters the
 * template brings itself, and the placeholder contributing most.
 */
function filledSize(pieces: readonly TemplatePiece[], vars: TemplateVars): { size: number; literal: number; largest?: { name: string; chars: number; count: number } } {
  let literal = 0;
  let size = 0;
  const byName = new Map<string, { chars: number; count: number }>();
  for (const piece of pieces) {
    if ('text' in piece) {
      literal += charCount(piece.text);
      continue;
    }
    const value = vars[piece.name];
    const length = value ? charCount(value) : 0;
    size += length;
    const entry = byName.get(piece.name) ?? { chars: 0, count: 0 };
    entry.chars += length;
    entry.count += 1;
    byName.set(piece.name, entry);
  }
  const largest = [...byName.entries()].sort((a, b) => b[1].chars - a[1].chars)[0];
  return { size: size + literal, literal, largest: largest && { name: largest[0], ...largest[1] } };
}

/**
 * Replaces `{name}` placeholders; `{{` and `}}` write literal braces. An unknown placeholder is an error naming it (a
 * typo in a user's template must not end up in thousands of prompts), and so is a lone brace; a known placeholder
 * whose value is null makes the whole result null. A result over `maxChars` characters is refused before it is
 * built (PromptTooLongError), so a template repeating a long value costs nothing: it names what to shorten, the
 * option behind the largest placeholder, or `field` (the format's field, e.g. `format.template`) when the
 * template's own text is the larger part.
 */
export function fill(template: string, vars: TemplateVars, where = 'template', maxChars = Number.POSITIVE_INFINITY, field = 'format'): string | null {
  let pieces: readonly TemplatePiece[];
  try {
    pieces = parseTemplate(template);
  } catch (error) {
    throw error instanceof TemplateError ? new TemplateError(`${where}: ${error.message}`) : error;
  }
  // Own properties only: `{constructor}` is unknown, not Object's constructor.
  for (const piece of pieces) if ('name' in piece && !Object.hasOwn(vars, piece.name)) throw placeholderError(where, piece.name, vars);
  if (Number.isFinite(maxChars)) {
    const { size, literal, largest } = filledSize(pieces, vars);
    if (size > maxChars) {
      const blameTemplate = !largest || literal >= largest.chars;
      const why = blameTemplate
        ? `; its own text is ${literal} characters`
        : `; {${largest.name}} alone brings ${largest.chars} characters${largest.count > 1 ? ` (${largest.count} times)` : ''}`;
      const param = blameTemplate ? field : PARAM_OF[largest.name] ?? field;
      throw new PromptTooLongError(param, `${where} would render ${size} characters, over this service's limit of ${maxChars} (ERC_DEMOS_MAX_PROMPT_CHARS)${why}`);
    }
  }
  let missing = false;
  let out = '';
  for (const piece of pieces) {
    if ('text' in piece) {
      out += piece.text;
      continue;
    }
    const value = vars[piece.name];
    if (value === null) missing = true;
    else out += value;
  }
  return missing ? null : out;
}
