/**
 * Which Host headers a listener answers. A listener bound to loopback answers only loopback
 * names: a web page whose own name an attacker re-pointed at 127.0.0.1 (DNS rebinding) is
 * same-origin to the browser, so CORS cannot stop it; its Host header can.
 */

/** Host names a loopback listener answers to. */
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

export function isLoopbackName(name: string): boolean {
  return LOOPBACK_HOSTS.has(name) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

/** A listen address on loopback. */
export function isLoopbackAddress(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || host.startsWith("127.");
}

/** The host name of a Host header, lower case, without the port (IPv6 keeps its brackets). */
export function hostName(host: string | undefined): string {
  if (!host) return "";
  try {
    return new URL(`http://${host}`).hostname;
  } catch {
    return "";
  }
}

/** Whether a listener bound to `listenHost` serves a request with this Host header. */
export function servesHost(listenHost: string, hostHeader: string | undefined): boolean {
  return !isLoopbackAddress(listenHost) || isLoopbackName(hostName(hostHeader));
}
