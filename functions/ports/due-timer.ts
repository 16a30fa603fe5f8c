import type { TimerRequest } from '../domain/writes.js';

export interface DueTimer extends TimerRequest {
  name: string;
}
