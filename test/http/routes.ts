/** The routes an app registered, read from Fastify's own route tree (`printRoutes`), for tests that compare them with what is documented. */

/**
 * Every route as "METHOD /path" (HEAD, which Fastify adds to every GET, left out): each line of the
 * tree is one segment under its parent.
 */
export function registeredRoutes(tree: string): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^((?:[│ ] {3})*)[├└]── (.+?) \(([A-Z, ]+)\)$/u.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    for (const method of m[3]!.split(', ')) if (method !== 'HEAD') out.push(`${method} ${stack.join('')}`);
  }
  return out;
}

/** A route pattern (`:id`) as a regex over manifest paths (`{id}` or a concrete segment such as `operators`). */
export function routeMatcher(route: string): RegExp {
  const [method, path] = route.split(' ') as [string, string];
  return new RegExp(`^${method} ${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/:[A-Za-z]+/g, '(?:\\{[A-Za-z]+\\}|[a-z-]+)')}$`);
}
