/**
 * The cookies of a `Cookie` request header by name. The first of a repeated name wins (browsers
 * send the most specific one first); values are percent-decoded when they decode (Bilibili's
 * SESSDATA is sent encoded), taken as they are otherwise. Kept in a Map, so no name can reach a
 * prototype.
 */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (!header) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1);
    }
    if (!name || cookies.has(name)) continue;
    try {
      value = decodeURIComponent(value);
    } catch {
      // Not percent-encoding after all: the raw value is the value.
    }
    cookies.set(name, value);
  }
  return cookies;
}
