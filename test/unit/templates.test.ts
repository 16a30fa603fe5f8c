import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { messageTemplateEntity } from '../../functions/adapters/dynamodb/entities.js';
import {
  MAX_TEMPLATE_TEXT,
  renderTemplate,
  TEMPLATE_EVENTS,
  TEMPLATE_PLACEHOLDERS,
  templateTextErrors,
  unknownPlaceholders,
  type MessageTemplate,
} from '../../functions/domain/templates.js';
import { messageTemplateBody, templateEventParam } from '../../functions/handlers/http/admin-schemas.js';

/** MS-4, pure: rendering a template's placeholders, what a template text may hold, the body schema. */

const ALL = { position: 3, estimatedWaitMinutes: 7, agentName: 'Alice' };
/** a text with no `{{...}}` in it (braces alone are fine) */
const PLACEHOLDER = /\{\{[^{}]*\}\}/;
const noPlaceholder = (s: string): boolean => !PLACEHOLDER.test(s);

describe('MS-4: renderTemplate', () => {
  it('MS-4: replaces each placeholder by its value, every time it occurs', () => {
    const text = 'You are number {{position}} ({{position}}), about {{estimatedWaitMinutes}} min. {{agentName}} soon.';
    expect(renderTemplate(text, ALL)).toBe('You are number 3 (3), about 7 min. Alice soon.');
  });

  it('MS-4: spaces inside the braces are allowed', () => {
    expect(renderTemplate('Hi, I am {{ agentName }} ({{position }})', ALL)).toBe('Hi, I am Alice (3)');
  });

  it('MS-4: a missing value (or a number that is not finite) renders as an empty string', () => {
    expect(renderTemplate('[{{agentName}}][{{position}}][{{estimatedWaitMinutes}}]', {})).toBe('[][][]');
    expect(renderTemplate('[{{position}}]', { position: Number.NaN })).toBe('[]');
    expect(renderTemplate('[{{estimatedWaitMinutes}}]', { estimatedWaitMinutes: Infinity })).toBe('[]');
    expect(renderTemplate('[{{position}}]', { position: 0 })).toBe('[0]');
  });

  it('MS-4: plain text in, plain text out: no markup is escaped or interpreted, in the text or the values', () => {
    const text = '<b>{{agentName}}</b> &amp; <script>x</script>';
    expect(renderTemplate(text, { agentName: '<i>Al & "Bo"</i>' })).toBe(
      '<b><i>Al & "Bo"</i></b> &amp; <script>x</script>',
    );
  });

  it('MS-4: one pass: a value that looks like a placeholder or a replacement pattern is inserted as it is', () => {
    expect(renderTemplate('{{agentName}} {{position}}', { agentName: '{{position}}', position: 1 })).toBe(
      '{{position}} 1',
    );
    expect(renderTemplate('{{agentName}}', { agentName: "$& $1 $$ $` $'" })).toBe("$& $1 $$ $` $'");
  });

  it('MS-4: what is not a known placeholder stays as written', () => {
    expect(renderTemplate('{{queueName}} {{ }} {{ {position} }} {{position', ALL)).toBe(
      '{{queueName}} {{ }} {{ {position} }} {{position',
    );
    expect(renderTemplate('{{{position}}}', ALL)).toBe('{3}');
  });

  it('MS-4 (property): a text without placeholders renders unchanged, whatever the values', () => {
    const braces = fc.string({ unit: fc.constantFrom('{', '}', 'p', ' ', 'position', 'agentName', '$&', '\n') });
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'binary' }), braces).filter(noPlaceholder),
        fc.record({ position: fc.nat(), estimatedWaitMinutes: fc.nat(), agentName: fc.string() }, { requiredKeys: [] }),
        (text, values) => {
          expect(renderTemplate(text, values)).toBe(text);
        },
      ),
    );
  });

  it('MS-4 (property): each placeholder becomes exactly its value, between literal texts', () => {
    const literal = fc.string().filter((s) => noPlaceholder(s) && !s.endsWith('{') && !s.startsWith('}'));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(literal, fc.constantFrom(...TEMPLATE_PLACEHOLDERS))),
        literal,
        fc.nat(),
        fc.nat(),
        fc.string(),
        (parts, tail, position, estimatedWaitMinutes, agentName) => {
          const values = { position, estimatedWaitMinutes, agentName };
          const text = parts.map(([lit, p]) => `${lit}{{${p}}}`).join('') + tail;
          const expected = parts.map(([lit, p]) => `${lit}${String(values[p])}`).join('') + tail;
          expect(renderTemplate(text, values)).toBe(expected);
        },
      ),
    );
  });
});

describe('MS-4: template texts', () => {
  it('MS-4: the known placeholders are accepted, others are named in the error', () => {
    expect(templateTextErrors('{{position}} {{ estimatedWaitMinutes }} {{agentName}}')).toEqual([]);
    expect(unknownPlaceholders('{{queueName}} {{position}} {{ x }} {{queueName}}')).toEqual([
      '{{queueName}}',
      '{{ x }}',
    ]);
    const [error] = templateTextErrors('Hello {{customerName}}');
    expect(error).toContain('{{customerName}}');
    expect(error).toContain('{{position}}, {{estimatedWaitMinutes}}, {{agentName}}');
  });

  it('MS-4: length 1..1000, not blank, well-formed Unicode', () => {
    expect(templateTextErrors('x'.repeat(MAX_TEMPLATE_TEXT))).toEqual([]);
    expect(templateTextErrors('')).toEqual(['must be 1 to 1000 characters long']);
    expect(templateTextErrors('x'.repeat(MAX_TEMPLATE_TEXT + 1))).toEqual(['must be 1 to 1000 characters long']);
    expect(templateTextErrors(' \n\t ')).toEqual(['must not be blank']);
    expect(templateTextErrors('bad \uD800 surrogate')).toEqual([
      'must be well-formed Unicode (it contains a lone surrogate)',
    ]);
    expect(templateTextErrors('a pair is fine \uD83D\uDE00')).toEqual([]);
  });

  it('MS-4: the body schema: text required, enabled optional, unknown fields refused, the event enum', () => {
    expect(messageTemplateBody.safeParse({ text: 'Hi {{agentName}}' }).data).toEqual({ text: 'Hi {{agentName}}' });
    expect(messageTemplateBody.safeParse({ text: 'Hi', enabled: false }).success).toBe(true);
    const bad = [{}, { text: '' }, { text: 5 }, { text: 'Hi', enabled: 'yes' }, { text: 'Hi', extra: 1 }, null];
    for (const body of bad) expect(messageTemplateBody.safeParse(body).success, JSON.stringify(body)).toBe(false);
    const issues = messageTemplateBody.safeParse({ text: '{{nope}}' }).error?.issues ?? [];
    expect(issues.map((i) => i.path.join('.'))).toEqual(['text']);
    for (const e of TEMPLATE_EVENTS) expect(templateEventParam.safeParse(e).success).toBe(true);
    expect(templateEventParam.safeParse('opened').success).toBe(false);
  });
});

describe('MS-4: storage and contract', () => {
  it('MS-4: the list comes back in TEMPLATE_EVENTS order, with the version of its VERSION item', () => {
    const t = (event: MessageTemplate['event']): MessageTemplate => ({
      org: 'acme',
      event,
      text: event,
      enabled: true,
    });
    const items = [
      messageTemplateEntity.item(t('outside-hours')),
      messageTemplateEntity.versionItem('acme', 'v9'),
      messageTemplateEntity.item(t('queued')),
      messageTemplateEntity.item(t('closed')),
    ];
    expect(messageTemplateEntity.versioned('acme', items)).toEqual({
      value: [t('queued'), t('closed'), t('outside-hours')],
      version: 'v9',
    });
    expect(messageTemplateEntity.versioned('acme', [])).toEqual({ value: [], version: '' });
    expect(messageTemplateEntity.item(t('queued'))).toMatchObject({ PK: 'ORG#acme#TEMPLATES', SK: 'TEMPLATE#queued' });
  });

  it('MS-4: openapi.yaml lists the events of TEMPLATE_EVENTS', () => {
    const doc = parse(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as {
      components: { schemas: Record<string, { enum?: string[] }> };
    };
    expect(doc.components.schemas.TemplateEvent?.enum).toEqual([...TEMPLATE_EVENTS]);
  });
});
