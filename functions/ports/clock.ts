/** The clock is a port: domain and use cases never read the wall clock themselves (TM tests move it). */
export interface Clock {
  now(): Date;
}

export interface IdGenerator {
  newId(): string;
}
