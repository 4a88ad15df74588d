// Host names as DNS and the allowlists read them (RFC 1123): labels of letters, digits and inner
// hyphens, at most 63 characters each and 253 in all, lower case.

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Whether `name` (already lower case) is a host name: nothing a resolver would read otherwise (a NUL, '?', '@', spaces). */
export function isHostName(name: string): boolean {
  return HOST_NAME.test(name);
}
