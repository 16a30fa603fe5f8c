import type { OutboundMessage } from '../domain/messages.js';
import type { Notification } from '../domain/model.js';

/** What the outbound queue carries: notifications (E-2) and messages for the channel (MS-2, MS-4). */
export type Outbound = Notification | OutboundMessage;

/** E-2 / MS-2: publishes to the outbound queue. At least once: consumers dedupe on `id`. */
export interface Notifier {
  publish(body: Outbound): Promise<void>;
}
