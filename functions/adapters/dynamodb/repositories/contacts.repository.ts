import { TransactWriteCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Contact } from '../../../domain/model.js';
import type { Contacts } from '../../../ports/repositories.js';
import { contactEntity, lookupEntity, type Lookups } from '../entities.js';
import type { Table } from '../table.js';

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** Contacts and accounts, with the identification lookups of their normalized phone and email. */
export class DynamoContacts implements Contacts {
  constructor(private readonly table: Table) {}

  /** The contact and its lookups in one transaction; lookups of old values go. */
  async putContact(contact: Contact, lookups: Lookups): Promise<void> {
    const old = contactEntity.lookupsOf(await this.table.getItem(contactEntity.key(contact.org, contact.id)));
    const t = this.table.name;
    const items: TransactItem[] = [{ Put: { TableName: t, Item: contactEntity.item(contact, lookups) } }];
    for (const field of ['phone', 'email'] as const) {
      const prev = old[field];
      const next = lookups[field];
      if (prev && prev !== next)
        items.push({ Delete: { TableName: t, Key: lookupEntity.key(contact.org, field, prev, contact.id) } });
      if (next) items.push({ Put: { TableName: t, Item: lookupEntity.item(contact, field, next) } });
    }
    await this.table.doc.send(new TransactWriteCommand({ TransactItems: items }));
  }

  async getContact(org: string, id: string): Promise<Contact | undefined> {
    const item = await this.table.getItem(contactEntity.key(org, id));
    return item ? contactEntity.from(item) : undefined;
  }

  /** the contacts and accounts whose normalized phone or email is `value` (a key read, not a scan). */
  async findContacts(
    org: string,
    field: 'phone' | 'email',
    value: string,
  ): Promise<{ id: string; kind: 'contact' | 'account' }[]> {
    const items = await this.table.queryAll({
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': lookupEntity.partition(org, field, value) },
    });
    return items.map(lookupEntity.from);
  }
}
