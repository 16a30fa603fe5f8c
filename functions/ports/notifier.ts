import type { Notification } from '../domain/model.js';

/** E-2: publishes participant notifications to the outbound queue. At least once: consumers dedupe on `id`. */
export interface Notifier {
  publish(notification: Notification): Promise<void>;
}
