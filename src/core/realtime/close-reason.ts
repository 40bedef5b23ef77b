/** A WebSocket close reason may be at most 123 bytes of UTF-8 (RFC 6455 §5.5): longer ones are cut, marked with "...". */
export function closeReason(reason: string): string {
  const utf8 = new TextEncoder();
  if (utf8.encode(reason).length <= 123) return reason;
  let out = reason;
  while (utf8.encode(out).length > 120) out = out.slice(0, -1);
  return `${out}...`;
}
