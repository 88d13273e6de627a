/** Values a template may use; null means "unknown here" (a missing score): a template that needs it yields null. */
export type TemplateVars = Readonly<Record<string, string | null>>;

const PLACEHOLDER = /\{([a-z][a-z0-9_]*)\}/g;

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

/**
 * Replaces `{name}` placeholders. An unknown placeholder is an error naming it (a typo in a user's template must
 * not end up in thousands of prompts); a known one whose value is null makes the whole result null.
 */
export function fill(template: string, vars: TemplateVars, where = 'template'): string | null {
  let missing = false;
  const out = template.replace(PLACEHOLDER, (_match, name: string) => {
    if (!(name in vars)) {
      throw new TemplateError(`${where}: unknown placeholder {${name}} (known: ${Object.keys(vars).map((k) => `{${k}}`).join(', ')})`);
    }
    const value = vars[name];
    if (value === null) {
      missing = true;
      return '';
    }
    return value;
  });
  return missing ? null : out;
}
