/**
 * MS-4: the automated messages an org sends on conversation events, as templates with placeholders.
 * Pure: what a template is, which placeholders it may name, and how it renders. Storing them is the
 * configuration repository's (R-5: versioned like the triggers); sending them is the messages feature's.
 */

/** The events a template can be set for, in the order the admin list answers them. */
export const TEMPLATE_EVENTS = ['queued', 'assigned', 'waiting', 'closed', 'overflow', 'outside-hours'] as const;
export type TemplateEvent = (typeof TEMPLATE_EVENTS)[number];

export interface MessageTemplate {
  org: string;
  event: TemplateEvent;
  text: string;
  /** false: the template is kept but no message is sent for its event */
  enabled: boolean;
}

/** The placeholders a template may name, each written `{{name}}` (spaces inside the braces allowed). */
export const TEMPLATE_PLACEHOLDERS = ['position', 'estimatedWaitMinutes', 'agentName'] as const;
export type TemplatePlaceholder = (typeof TEMPLATE_PLACEHOLDERS)[number];

/** What a rendering fills the placeholders with; any may be missing. */
export interface TemplateValues {
  position?: number | undefined;
  estimatedWaitMinutes?: number | undefined;
  agentName?: string | undefined;
}

/** A template's text: 1..1000 UTF-16 code units (as every length of the API). */
export const MAX_TEMPLATE_TEXT = 1000;

/**
 * A placeholder: `{{`, no brace, `}}`. Text that does not match (a lone `{{`, `{{a{b}}`) is not a
 * placeholder and stays as written, both for validation and for rendering.
 */
const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;

const KNOWN: ReadonlySet<string> = new Set(TEMPLATE_PLACEHOLDERS);

/** The placeholders a text names that are not among TEMPLATE_PLACEHOLDERS, as written, once each, in order. */
export function unknownPlaceholders(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(PLACEHOLDER)) {
    const name = (m[1] ?? '').trim();
    if (!KNOWN.has(name) && !out.includes(m[0])) out.push(m[0]);
  }
  return out;
}

/**
 * Why a template text cannot be stored ([] when it can): its length, a text of whitespace only, a
 * string that is not well-formed Unicode (a lone surrogate cannot be sent as written), a placeholder
 * other than TEMPLATE_PLACEHOLDERS.
 */
export function templateTextErrors(text: string): string[] {
  const errors: string[] = [];
  if (text.length < 1 || text.length > MAX_TEMPLATE_TEXT)
    errors.push(`must be 1 to ${MAX_TEMPLATE_TEXT} characters long`);
  else if (text.trim() === '') errors.push('must not be blank');
  if (!text.isWellFormed()) errors.push('must be well-formed Unicode (it contains a lone surrogate)');
  const unknown = unknownPlaceholders(text);
  if (unknown.length)
    errors.push(
      `names unknown placeholder${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; ` +
        `the placeholders are ${TEMPLATE_PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')}`,
    );
  return errors;
}

const valueText = (v: number | string | undefined): string =>
  typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : (v ?? '');

/**
 * The message of a template: each placeholder `{{name}}` (or `{{ name }}`) replaced by its value.
 *
 * - Plain text in, plain text out: nothing is escaped or unescaped, no markup is interpreted (`<b>`,
 *   `&amp;` stay as written, in the text and in the values); the channel decides how to show it.
 * - One pass: a value is inserted as it is, so a value that looks like a placeholder (an agent named
 *   `{{position}}`) or holds `$&` is never expanded again.
 * - A missing value (or a number that is not finite) renders as an empty string: a customer should
 *   never read `{{agentName}}`. Callers that cannot fill a placeholder the template names may prefer
 *   not to send the message at all.
 * - Numbers render with `String` (the caller rounds `estimatedWaitMinutes`).
 * - A `{{...}}` that is not a known placeholder is left as written (stored templates have none: the
 *   admin PUT refuses them, `templateTextErrors`).
 */
export function renderTemplate(text: string, values: TemplateValues): string {
  return text.replace(PLACEHOLDER, (whole: string, inner: string) => {
    const name = inner.trim();
    return KNOWN.has(name) ? valueText(values[name as TemplatePlaceholder]) : whole;
  });
}
