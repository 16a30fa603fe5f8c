import { describe, expect, it } from 'vitest';
import {
  signBody,
  signTimestamped,
  signatureRefusal,
  SIGNATURE_TOLERANCE_SECONDS,
} from '../../functions/use-cases/ingest-webhook.use-case.js';

const secret = 'unit-secret-0123456789';
const raw = '{"eventId":"e-1","type":"conversation.started","threadId":"t-1"}';
const now = new Date('2026-03-02T09:05:00.000Z');
const nowSeconds = now.getTime() / 1000;
const timestamped = { channelId: 'ch-a', secret, signature: 'timestamped' as const };

const refusal = (timestamp: string, channelId = 'ch-a'): string | undefined =>
  signatureRefusal(timestamped, raw, { timestamp, signature: signTimestamped(secret, timestamp, channelId, raw) }, now);

describe('finding 5 / RL-9: signatureRefusal', () => {
  it('finding 5: the window is 300 s either way of the engine clock, bounds included', () => {
    expect(SIGNATURE_TOLERANCE_SECONDS).toBe(300);
    for (const offset of [-300, -1, 0, 1, 300])
      expect(refusal(String(nowSeconds + offset)), `${offset}`).toBeUndefined();
    for (const offset of [-301, 301, -86_400])
      expect(refusal(String(nowSeconds + offset)), `${offset}`).toMatch(/300 s/);
  });

  it('finding 5: the signature holds for one channel: signed for ch-b, refused on ch-a', () => {
    expect(refusal(String(nowSeconds), 'ch-b')).toMatch(/X-Signature/);
  });

  it('finding 5: the signed text is "<timestamp>.<channelId>.<raw body>"', () => {
    const t = String(nowSeconds);
    expect(signTimestamped(secret, t, 'ch-a', raw)).toBe(signBody(secret, `${t}.ch-a.${raw}`));
  });

  it('RL-5: channels without a scheme (stored before RL-9) and `body` channels check the body signature only', () => {
    for (const reg of [
      { channelId: 'ch-a', secret },
      { channelId: 'ch-a', secret, signature: 'body' as const },
    ]) {
      expect(signatureRefusal(reg, raw, { signature: signBody(secret, raw) }, now)).toBeUndefined();
      expect(signatureRefusal(reg, raw, { signature: signBody('another-secret-0123', raw) }, now)).toMatch(
        /X-Signature/,
      );
    }
  });
});
