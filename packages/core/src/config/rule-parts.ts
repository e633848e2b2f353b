/** Normalized parts every rule family shares: `when`, and an address with its prefix. */

export type SocketFamily = 'inet' | 'inet6'

export interface NormalizedWhen {
  afterMs: number
  /** 0 = every eligible call. */
  nth: number
  /** 0 = unlimited. */
  times: number
  /** 0..1; 1 = always. */
  probability: number
  /** undefined = random (kernel prandom). */
  seed: number | undefined
}

export interface NormalizedAddress {
  family: SocketFamily
  /** Network-order bytes: 4 for inet, 16 for inet6. */
  bytes: Uint8Array
  prefixLen: number
  /** The text the user wrote, for messages. */
  text: string
}
