/**
 * Item types whose changes cause follow-ups; every other item (events, receipts, notes...) causes
 * none. Data only, with no imports: the CDK stack reads it for the stream event source's filter
 * criteria, so only these items' changes invoke the follow-ups function at all.
 */
export const FOLLOWED_TYPES = ['conversation', 'pool', 'agent', 'timer', 'queue-requirements'] as const;

export type FollowedType = (typeof FOLLOWED_TYPES)[number];
