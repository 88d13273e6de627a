import { describe, expect, it } from 'vitest';
import * as errors from '../src/errors.js';
import { CorpusFormatError as OldCorpusFormatError } from '../src/corpus/types.js';
import { PromptTooLongError as OldPromptTooLongError, TemplateError as OldTemplateError } from '../src/prompt/fill.js';
import { LimitError as OldLimitError } from '../src/service/limits.js';
import { ModelFolderError as OldModelFolderError } from '../src/embed/st-config.js';
import { HTTP_STATUS } from '../src/server/app.js';

/** One of each error class, as the code that throws it makes it. */
const samples: errors.ErcDemosError[] = [
  new errors.InputError('k', 'must be at least 1'),
  new errors.LimitError('queries', 'has 101 queries, over the limit'),
  new errors.PromptTooLongError('options.k', 'too long'),
  new errors.TemplateError('unknown placeholder {x}'),
  new errors.CancelledError(),
  new errors.OutputRefusedError('/tmp/x', 'is a file'),
  new errors.IndexLoadError('/tmp/i', 'no manifest.json'),
  new errors.IndexSetError('INDEX_NAME_TAKEN', 'two indexes are named "a"'),
  new errors.CorpusFormatError('a.csv', 3, 'bad row'),
  new errors.CorpusSourceError('DATA_NOT_FOUND', 'data path not found: x'),
  new errors.ModelFolderError('/m', 'no config.json'),
  new errors.EmbedderError('EMBEDDER_UNKNOWN', 'unknown embedder "x"'),
  new errors.SettingError('ERC_DEMOS_PORT=x: must be an integer'),
  new errors.NotSupportedError('not appended'),
];

describe('errors', () => {
  it('every error a user can meet has a documented code and keeps its name and message', () => {
    for (const error of samples) {
      expect(error).toBeInstanceOf(Error);
      expect(Object.keys(errors.ERROR_CODES)).toContain(error.code);
      expect(errors.errorCode(error)).toBe(error.code);
      expect(error.name).toBe(error.constructor.name);
    }
    expect(new errors.InputError('k', 'must be at least 1').message).toBe('k: must be at least 1');
    expect(new errors.CorpusFormatError('a.csv', 3, 'bad row').message).toBe('a.csv:3: bad row');
    expect(new errors.IndexLoadError('/tmp/i', 'no manifest.json').message).toBe('index /tmp/i: no manifest.json');
    expect(errors.errorCode(new Error('plain'))).toBeUndefined();
  });

  it('the kinds of InputError keep their own codes, also when re-thrown under another parameter', () => {
    const limit = new errors.LimitError('queries', 'over');
    expect(limit).toBeInstanceOf(errors.InputError);
    expect(limit.code).toBe('LIMIT_EXCEEDED');
    expect(new errors.InputError(`queries.0.${limit.param}`, 'over', limit.code).code).toBe('LIMIT_EXCEEDED');
  });

  it('the old homes still export the same classes', () => {
    expect(OldCorpusFormatError).toBe(errors.CorpusFormatError);
    expect(OldTemplateError).toBe(errors.TemplateError);
    expect(OldPromptTooLongError).toBe(errors.PromptTooLongError);
    expect(OldLimitError).toBe(errors.LimitError);
    expect(OldModelFolderError).toBe(errors.ModelFolderError);
  });

  it('the server answers the caller mistakes 400, ends a cancelled request without an answer, and hides the rest as 500', () => {
    for (const code of ['INPUT_INVALID', 'LIMIT_EXCEEDED', 'PROMPT_TOO_LONG', 'TEMPLATE_INVALID'] as const) expect(HTTP_STATUS[code]).toBe(400);
    expect(HTTP_STATUS.CANCELLED).toBeNull();
    expect(Object.keys(HTTP_STATUS).sort()).toEqual(Object.keys(errors.ERROR_CODES).sort());
  });
});
