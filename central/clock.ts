/** Time comes in as an argument so tests can move it; production uses the wall clock. */
export type Clock = () => Date

export const systemClock: Clock = () => new Date()
