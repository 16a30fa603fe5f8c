import { config } from 'zod/mini';
import { en } from 'zod/locales';

/**
 * zod/mini loads no locale, so every issue would say only "Invalid input". The English messages are
 * the ones our 400 responses carry (RL-4). Imported for its effect by every module that declares a
 * schema; the setting is global and read when an issue is reported.
 */
config(en());
