/** y-websocket frames built by hand, for what a stock provider never sends (and for raw clients). */

/** A frame of message `type` (0: sync) and sync `step` (0 step 1, 1 step 2, 2 update), then the payload with its varint length. */
export function frame(type: number, step: number, payload: Uint8Array): Buffer {
  const len: number[] = [];
  let n = payload.length;
  while (n >= 0x80) {
    len.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  len.push(n);
  return Buffer.concat([Buffer.from([type, step, ...len]), Buffer.from(payload)]);
}
