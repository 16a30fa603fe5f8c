/** Who asks, as the API's token names them: their org, their id (the token's subject) and their roles. */
export interface Caller {
  org: string;
  id: string;
  roles: readonly string[];
}

/** Supervisors and admins read across their org; an agent reads only what is theirs. */
export const readsAcrossOrg = (caller: Caller): boolean =>
  caller.roles.includes('supervisor') || caller.roles.includes('admin');
